# medprompt: every install step a new machine needs lives here.
#   make demo   -> create .venv, install, run the default few-shot experiment
#   make test   -> create .venv, install, run all notebook tests and pytest (output check and docs build included)
#   make docs   -> the docs site without quarto, in _mkdocs/site (tools/build_docs.py); quarto users: nbdev-docs
#   make execute -> run every notebook, save its outputs in place, check them (tools/execute_nbs.py)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.medprompt-installed

.PHONY: install demo test export clean-nbs docs docs-serve execute

# The stamp is a copy of the pyproject.toml that was installed: reinstall only when its content changes
# (nbdev-export rewrites the file without changing it, which would defeat an mtime rule).
install:
	@if [ -x $(BIN)/python ] && cmp -s pyproject.toml $(STAMP); then echo "$(VENV) is up to date"; else \
	  set -e; test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --upgrade pip; \
	  $(BIN)/python -m pip install -e '.[dev,docs,slurm]'; \
	  cp pyproject.toml $(STAMP); fi

demo: install
	$(BIN)/medprompt demo

test: install
	PATH="$(abspath $(BIN)):$$PATH" bash tools/run_tests.sh

export: install
	$(BIN)/nbdev-export

clean-nbs: install
	$(BIN)/nbdev-clean

# nbdev's processors + MkDocs-Material; not nbdev-proc-nbs, which tries to install quarto with sudo.
docs: install
	$(BIN)/python tools/build_docs.py

docs-serve: install
	$(BIN)/python tools/build_docs.py --serve

execute: install
	OMP_NUM_THREADS=1 $(BIN)/python tools/execute_nbs.py
