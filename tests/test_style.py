"The notebooks' exported code keeps the house style (issue #19): lines a reader sees whole, cells of one idea each."
import json, re
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).parents[1]/'nbs').glob('*.ipynb'))
MAX_LINE, MAX_CELL_LINES = 120, 40

def exported_cells(nb:Path)->list[str]:
    "Sources of `nb`'s code cells that nbdev exports (`#| export` or `#| exports`)."
    cells = json.loads(nb.read_text())['cells']
    srcs = [''.join(c['source']) for c in cells if c['cell_type'] == 'code']
    return [s for s in srcs if re.match(r'\s*#\|\s*exports?\b', s)]

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_exported_lines_fit_120_characters(nb):
    long = [l for s in exported_cells(nb) for l in s.splitlines() if len(l) > MAX_LINE]
    assert not long, f'{nb.name}: {len(long)} exported lines over {MAX_LINE} characters, e.g. {long[0]!r}'

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_exported_cells_stay_small(nb):
    big = [s.splitlines()[1][:60] for s in exported_cells(nb) if len(s.splitlines()) > MAX_CELL_LINES]
    assert not big, f'{nb.name}: {len(big)} exported cells over {MAX_CELL_LINES} lines, starting {big}'

def test_there_are_notebooks_to_check(): assert len(NBS) > 20
