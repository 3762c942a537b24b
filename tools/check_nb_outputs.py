"""Check that the committed notebooks carry clean outputs: the docs site shows them as they are.

nbdev's docs build (quarto, or `make docs`) does not execute notebooks, so a cell committed without its
output shows nothing on the site. This script lists, for every notebook in one pass, every problem:

- **missing output**: a code cell whose last statement is an expression Jupyter would display (not a
  `test_*`/`assert*` call, not ending in `;`), or that calls `print`/`display`/`show_doc`/`plt.`/`.plot`/
  `.show`, and has no output (a last call that returns None, such as `shutil.rmtree(...)` or `xs.append(...)`,
  is not expected to show anything). Cells that legitimately print nothing are recognised without a marker:
  `#| export`/`#| exports`/`#| exporti`/`#| hide`/`#| eval: false` cells, and cells made only of imports,
  definitions, assignments and tests. Mark any other silent cell with quarto's own option
  **`#| output: false`** (quarto then also hides whatever it would show).
- **a path of the machine** in any output: `/work/`, `/home/`, `/tmp/`, `/root/`, `/Users/`, `site-packages`,
  this interpreter's prefix. Outputs should not contain them at all: print paths relative to a folder.
- **a warning or an error**: `Warning:`/`UserWarning`/`DeprecationWarning`/`FutureWarning` in a stderr stream,
  or an `error` output. Fix warnings at their source, never by filtering outputs.
- **progress debris**: `\\r` in a stream, or a fastprogress `<progress>` bar in an HTML output.

Usage: `python tools/check_nb_outputs.py [NOTEBOOK ...]` (default: every notebook in nbs/); exits 1 when a
problem is found. `--counts` prints, per notebook, code cells / cells with output / pictures.
"""
import ast, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SILENT_DIRECTIVES = re.compile(r'^#\|\s*(export|exports|exporti|hide\b|eval:\s*false|output:\s*false)', re.M)
PATHS = re.compile('|'.join(map(re.escape, sorted({'/work/', '/home/', '/tmp/', '/root/', '/Users/', 'site-packages',
                                                    sys.prefix.rstrip('/') + '/'}))))
WARNING = re.compile(r'\b\w*Warning\b|Warning:')
SHOWS = re.compile(r'\b(print|display|show_doc)\(|\bplt\.|\.plot\w*\(|\.show\w*\(')
TEST_CALL = re.compile(r'^(test_\w*|assert\w*)$')
RETURNS_NONE = {'rmtree', 'unlink', 'rmdir', 'mkdir', 'touch', 'remove', 'append', 'extend', 'update', 'manual_seed', 'close', 'cleanup', 'sleep'}

def _callee(node):
    "Name of the function a call expression calls (`f` in `f(...)` and `m.f(...)`)."
    f = node.func if isinstance(node, ast.Call) else None
    return getattr(f, 'id', None) or getattr(f, 'attr', None) or ''

def expects_output(src:str)->bool:
    "Whether a code cell should show something once executed."
    if SILENT_DIRECTIVES.search(src): return False
    code = '\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!', '#|')))
    try: body = ast.parse(code).body
    except SyntaxError: return False
    if not body: return False
    if SHOWS.search(code): return True
    last = body[-1]
    if not isinstance(last, ast.Expr) or code.rstrip().endswith(';'): return False
    callee = _callee(last.value)
    return not (TEST_CALL.match(callee) or callee in RETURNS_NONE)

def _texts(o:dict):
    "Every text an output holds: a stream's text, each text-like mime bundle entry, an error's traceback."
    if o.get('output_type') == 'stream': yield o.get('name', ''), ''.join(o.get('text', ''))
    if o.get('output_type') == 'error': yield 'error', '\n'.join(o.get('traceback', []))
    for mime, v in o.get('data', {}).items():
        if mime.startswith('text/') or mime.endswith('json'): yield mime, v if isinstance(v, str) else ''.join(v) if isinstance(v, list) else json.dumps(v)

def output_problems(o:dict)->list:
    "What is wrong with one output of a cell."
    res = []
    if o.get('output_type') == 'error': res.append(f"an error: {o.get('ename')}: {o.get('evalue')}")
    for kind, t in _texts(o):
        if m := PATHS.search(t): res.append(f'a path of the machine ({m.group(0)!r}) in {kind}')
        if kind == 'stderr' and (m := WARNING.search(t)): res.append(f'a warning ({m.group(0)}) in stderr: fix it at its source')
        if kind in ('stdout', 'stderr') and '\r' in t: res.append(f'progress debris (\\r) in {kind}')
        if kind == 'text/html' and '<progress' in t: res.append('a progress bar (<progress>) in text/html')
    return res

def _cells(nb_path:Path): return json.loads(Path(nb_path).read_text())['cells']
def _name(nb_path): p = Path(nb_path).resolve(); return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else p.name

def notebook_problems(nb_path:Path)->list:
    "Every problem of a notebook's outputs, as `notebook cell <index> (<id>): problem` lines."
    res = []
    for i, c in enumerate(_cells(nb_path)):
        if c['cell_type'] != 'code': continue
        src, outs, where = ''.join(c['source']), c.get('outputs', []), f"{_name(nb_path)} cell {i} ({c.get('id')})"
        if not outs and expects_output(src):
            res.append(f'{where}: no output (execute the notebook, or mark the cell `#| output: false`): {src.strip().splitlines()[-1][:70]!r}')
        for o in outs: res += [f'{where}: {p}' for p in dict.fromkeys(output_problems(o))]
    return res

def counts(nb_path:Path)->dict:
    "Code cells, cells with output, and pictures (PNG/JPEG/SVG outputs) of a notebook."
    code = [c for c in _cells(nb_path) if c['cell_type'] == 'code']
    pics = sum(1 for c in code for o in c.get('outputs', []) for m in o.get('data', {}) if m.startswith('image/'))
    return dict(code_cells=len(code), with_output=sum(1 for c in code if c.get('outputs')), pictures=pics)

def main(args=None):
    args = list(sys.argv[1:] if args is None else args)
    show_counts = '--counts' in args
    nbs = [Path(a) for a in args if a != '--counts'] or sorted((ROOT/'nbs').glob('*.ipynb'))
    if show_counts:
        for nb in nbs: print(f'{_name(nb):32} ' + ' '.join(f'{k}={v}' for k,v in counts(nb).items()))
    probs = [p for nb in nbs for p in notebook_problems(nb)]
    for p in probs: print(p)
    print(f'check_nb_outputs: {len(probs)} problem(s) in {len(nbs)} notebook(s)', file=sys.stderr)
    return 1 if probs else 0

if __name__ == '__main__': sys.exit(main())
