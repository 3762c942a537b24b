# medprompt: every install step a new machine needs lives here.
#   make demo   -> create .venv, install, run the default few-shot experiment
#   make test   -> create .venv, install, run all notebook tests and pytest
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medprompt-installed

.PHONY: install demo test export clean-nbs docs-prep

# The stamp is a copy of the pyproject.toml that was installed: reinstall only when its content changes
# (nbdev-export rewrites the file without changing it, which would defeat an mtime rule).
install:
	@if [ -x $(BIN)/python ] && cmp -s pyproject.toml $(STAMP); then echo "$(VENV) is up to date"; else \
	  set -e; test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --upgrade pip; \
	  $(BIN)/python -m pip install -e '.[dev]'; \
	  cp pyproject.toml $(STAMP); fi

demo: install
	$(BIN)/medprompt demo

test: install
	PATH="$(abspath $(BIN)):$$PATH" bash tools/run_tests.sh

export: install
	$(BIN)/nbdev-export

clean-nbs: install
	$(BIN)/nbdev-clean

docs-prep: install
	$(BIN)/nbdev-proc-nbs
