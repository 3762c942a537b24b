"""Execute notebooks in place so they are committed with their outputs, then clean and check them.

One process per notebook (`nbdev-test --path NB --save`: nbdev's own runner, so `#| eval: false` cells and the
`tst_flags` of pyproject.toml are skipped exactly as in `make test`; outputs are written back only when the
whole notebook ran), with one torch thread and `MEDPROMPT_CACHE` as given (default: a fresh temporary folder,
so no output depends on what an earlier run left in the user's cache). Then `nbdev-clean` on the notebook
and `tools/check_nb_outputs.py` over everything that ran. Nothing in the outputs is rewritten: a warning or a
path of the machine in them is fixed at its source.

Usage: `python tools/execute_nbs.py [NOTEBOOK ...]` (default: every notebook in nbs/); `make execute`.
"""
import os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def execute(nb:Path, env:dict)->bool:
    "Run one notebook in its own process and write its outputs back; True when every cell ran."
    t0 = time.time()
    r = subprocess.run([str(BIN/'nbdev-test'), str(nb), '--save', '--n-workers', '0'], cwd=ROOT, env=env)
    ok = r.returncode == 0
    if ok: subprocess.run([str(BIN/'nbdev-clean'), '--fname', str(nb)], cwd=ROOT, env=env, check=True)
    print(f'{nb.name}: {"executed" if ok else "FAILED, left as it was"} in {time.time()-t0:.0f}s', flush=True)
    return ok

def main(args=None):
    nbs = [Path(a).resolve() for a in (sys.argv[1:] if args is None else args)] or sorted((ROOT/'nbs').glob('*.ipynb'))
    with tempfile.TemporaryDirectory(prefix='medprompt-execute-') as cache:
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'),
                   MEDPROMPT_CACHE=os.environ.get('MEDPROMPT_CACHE', cache))
        failed = [nb.name for nb in nbs if not execute(nb, env)]
    check = subprocess.run([sys.executable, str(ROOT/'tools'/'check_nb_outputs.py'), *map(str, nbs)], cwd=ROOT)
    if failed: print('execute_nbs: failed:', ' '.join(failed), file=sys.stderr)
    return 1 if failed or check.returncode else 0

if __name__ == '__main__': sys.exit(main())
