#!/usr/bin/env bash
# Run every test medprompt has: the notebooks (nbdev-test) and the cross-notebook pytest suite, which includes
# the check of the committed notebooks' outputs (tests/test_notebook_outputs.py: run `make execute` when it fails)
# and the docs site's build and link check (tests/test_docs.py; needs the docs extra, which `make install` adds).
# Fails when either finds nothing to run, so "no tests" can never pass silently.
set -euo pipefail
cd "$(dirname "$0")/.."

n_nbs=$(find nbs -maxdepth 1 -name '[0-9]*.ipynb' | wc -l)
if [ "$n_nbs" -eq 0 ]; then echo "run_tests: no notebooks found under nbs/" >&2; exit 1; fi
echo "== nbdev-test over $n_nbs notebooks"
# one torch thread per notebook process by default: two workers with two threads each on two cores run many
# times slower. MEDPROMPT_TEST_THREADS=4 runs notebooks and pytest with 4 threads (the suite must pass either way).
OMP_NUM_THREADS="${MEDPROMPT_TEST_THREADS:-1}" nbdev-test --n-workers "${NBDEV_WORKERS:-2}" --timing

echo "== pytest"
# two worker processes with one torch thread each (pytest-xdist), for the same reason as the notebooks' two workers;
# --durations lists the slowest tests, to keep the whole command under 15 minutes on 2 cores
export OMP_NUM_THREADS="${MEDPROMPT_TEST_THREADS:-1}"
set +e
python -m pytest tests -n "${PYTEST_WORKERS:-2}" --dist worksteal --durations=20
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "run_tests: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
