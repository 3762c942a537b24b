"The committed notebooks carry their outputs, clean: the docs site shows them as they are (tools/check_nb_outputs.py)."
import importlib.util, json, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location('check_nb_outputs', ROOT/'tools'/'check_nb_outputs.py')
chk = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(chk)

def _nb(tmp_path, *cells):
    "A notebook of (source, outputs) code cells, written to tmp_path."
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[
        dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, source=s, outputs=o) for i,(s,o) in enumerate(cells)])
    p = tmp_path/'nb.ipynb'; p.write_text(json.dumps(nb)); return p

def _out(text, name='stdout'): return [dict(output_type='stream', name=name, text=text)]

@pytest.mark.parametrize('src', ['x', 'df.head()', 'print(1)', 'x = 1\nplt.plot(x)', 'show_doc(f)', 'a, b'])
def test_cells_that_should_show_something(src): assert chk.expects_output(src), src

@pytest.mark.parametrize('src', ['#| export\ndef f(): return 1', '#| hide\nx', '#| eval: false\nx', '#| output: false\nx',
    'import os', 'def f(): pass', 'x = f()', 'test_eq(1, 1)', 'x;', 'shutil.rmtree(tmp)', '', '%matplotlib inline'])
def test_cells_that_may_stay_silent(src): assert not chk.expects_output(src), src

def test_a_clean_notebook_passes(tmp_path):
    p = _nb(tmp_path, ('import os', []), ('x = 1', []), ('x', [dict(output_type='execute_result', data={'text/plain': '1'}, metadata={})]))
    assert chk.notebook_problems(p) == []
    assert chk.counts(p) == dict(code_cells=3, with_output=1, pictures=0)

def test_every_problem_is_listed(tmp_path):
    p = _nb(tmp_path,
        ('x', []),                                                                  # missing output
        ('print(p)', _out('/home/me/data/a.png\n')),                               # a path of the machine
        ('import timm', _out('x.py:1: FutureWarning: deprecated\n', 'stderr')),      # a warning
        ('learn.fit(1)', [dict(output_type='display_data', metadata={}, data={'text/html': '<progress value="1"></progress>'})]),
        ('print(1)', _out('10%\r100%\n')),                                          # progress debris
        ('f()', [dict(output_type='error', ename='ValueError', evalue='bad', traceback=['ValueError: bad'])]),
        ('print(sys.prefix)', _out(sys.prefix + '/bin\n')))
    probs = chk.notebook_problems(p)
    for i, what in enumerate(['no output', "path of the machine ('/home/')", 'a warning (FutureWarning)', '<progress>',
                              'progress debris', 'an error: ValueError: bad', 'path of the machine']):
        assert any(f'cell {i} (c{i}): ' in q and what in q for q in probs), (what, probs)
    assert chk.main([str(p)]) == 1

def test_pictures_are_counted(tmp_path):
    p = _nb(tmp_path, ('plt.plot([1])', [dict(output_type='display_data', metadata={}, data={'image/png': 'iVBO', 'text/plain': '<Figure>'})]))
    assert chk.counts(p)['pictures'] == 1 and chk.notebook_problems(p) == []

def test_committed_notebooks_have_clean_outputs():
    "Every notebook is committed executed: no missing output, no machine path, no warning, no progress debris."
    probs = [q for nb in sorted((ROOT/'nbs').glob('*.ipynb')) for q in chk.notebook_problems(nb)]
    assert not probs, f'{len(probs)} notebook output problem(s); run `make execute` (tools/execute_nbs.py), fix what it shows:\n' + '\n'.join(probs)
