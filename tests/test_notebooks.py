"Checks that keep the notebooks readable as docs: the docs build runs only exported and import cells."
import ast, json, re
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))
_EXPORT = re.compile(r'^#\|\s*(export|exports|exporti|exec_doc)\b', re.M)

def _code_cells(nb):
    for i, c in enumerate(json.loads(nb.read_text())['cells']):
        if c['cell_type'] == 'code': yield i, ''.join(c['source'])

def test_there_are_notebooks():
    assert len([n for n in NBS if n.name[0].isdigit()]) >= 5

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_imports_stand_alone(nb):
    "nbdev's docs build executes every cell with an import: such a cell must hold only imports."
    for i, src in _code_cells(nb):
        if _EXPORT.search(src) or 'nbdev_export()' in src: continue
        try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
        except SyntaxError: continue
        has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
        only_imports = all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)
        assert not has_import or only_imports, f'{nb.name} cell {i} mixes imports with code; move the imports to their own cell:\n{src}'

@pytest.mark.parametrize('nb', [n for n in NBS if n.name[0].isdigit()], ids=lambda p: p.name)
def test_numbered_notebooks_have_title_description_and_module(nb):
    cells = json.loads(nb.read_text())['cells']
    first = ''.join(cells[0]['source'])
    assert cells[0]['cell_type'] == 'markdown' and first.startswith('# ') and '\n> ' in first, f'{nb.name}: first cell needs "# Title" and "> description"'
    assert any(src.startswith('#| default_exp ') for _, src in _code_cells(nb)), f'{nb.name}: no #| default_exp'

def test_readme_is_built_from_index(tmp_path):
    "README.md is what tools/readme_from_index.py makes of nbs/index.ipynb (run it after editing the index)."
    import shutil, subprocess, sys
    root = Path(__file__).parents[1]
    for f in ('nbs/index.ipynb', 'tools/readme_from_index.py'):
        (tmp_path/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy(root/f, tmp_path/f)
    subprocess.run([sys.executable, str(tmp_path/'tools'/'readme_from_index.py')], check=True)
    assert (tmp_path/'README.md').read_text() == (root/'README.md').read_text()
