"The explorer driven headlessly: set the widgets' values from Python, check what they display."
import warnings
import pytest
from medprompt.backbones import load_backbone
from medprompt.cli import run_grid
from medprompt.data import load_dataset
from medprompt.explore import Explorer, load_results
from medprompt.methods.zeroshot import ZeroShot
from medprompt.methods.coop import CoOp

@pytest.fixture(scope='module')
def setup():
    bb, demo = load_backbone('tiny'), load_dataset('demo')
    items = demo.test[::3]
    methods = {'zs': ZeroShot(bb, demo.classnames), 'coop': CoOp(bb, demo.classnames, ctx_init=None)}
    return methods, items, demo.classnames

def caption(ex, k=0): return ex.panels.children[k].children[1].value
def picture(ex, k=0): return bytes(ex.panels.children[k].children[0].value)

def test_browse_filter_overlay_compare(setup):
    methods, items, names = setup
    ex = Explorer(methods, items)
    assert ex.method.options == ('zs', 'coop') and ex.compare.value == '(none)'
    table = ex.predictions('zs')
    ex.index.value = 2
    assert ex.shown() == 2 and len(ex.panels.children) == 1
    assert f'true: {names[items[2][1]]}' in caption(ex) and f'>{table["class"][2]}</span>' in caption(ex)
    assert picture(ex).startswith(b'\x89PNG')
    ex.mistakes.value = True
    wrong = [i for i, (_, l) in enumerate(items) if table['class'][i] != names[l]]
    assert wrong and ex.visible() == wrong and ex.index.value == 0 and ex.shown() == wrong[0]
    assert 'color:red' in caption(ex) and f'of {len(wrong)} mistakes' in ex.status.value
    ex.prev.click(); assert ex.index.value == 0          # stays in range
    before = picture(ex)
    ex.overlay.value = True
    assert picture(ex) != before
    ex.compare.value = 'coop'
    assert len(ex.panels.children) == 2
    j = ex.shown()
    assert 'coop' in caption(ex, 1) and f'true: {names[items[j][1]]}' in caption(ex, 1)
    assert f'>{ex.predictions("coop")["class"][j]}</span>' in caption(ex, 1)
    ex.method.value = 'coop'                            # the filter follows the first method
    coop_wrong = [i for i, (_, l) in enumerate(items) if ex.predictions('coop')['class'][i] != names[l]]
    assert ex.visible() == coop_wrong

def test_unreadable_items_are_left_out(setup, tmp_path):
    methods, items, names = setup
    bad = tmp_path/'bad.png'; bad.write_bytes(b'not a png')
    with pytest.warns(UserWarning, match='bad.png'): ex = Explorer(methods, [(bad, 0), *items[:3]])
    assert ex.items == items[:3] and len(ex.predictions('zs')) == 3

def test_results_folder_from_the_box(tmp_path):
    out = tmp_path/'res'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        run_grid(['zeroshot'], 'demo', 'tiny', shots=[1], out=out, save_checkpoints=True, echo=lambda s: None)
    ex = Explorer()
    assert 'Load a results folder' in ex.status.value
    ex.folder.value = str(tmp_path/'elsewhere'); ex.load.click()
    assert 'does not exist' in ex.status.value
    ex.folder.value = str(out); ex.load.click()
    assert len(ex.methods) == 1 and list(ex.methods)[0].startswith('zeroshot-demo-1shot-seed1')
    assert len(ex.items) == len(load_dataset('demo').test) and 'image 1 of' in ex.status.value
    with pytest.raises(ValueError, match='holds no saved methods'): load_results(out/'runs')

def test_a_failing_saliency_shows_in_the_status_line(setup):
    "An error while drawing reaches the user on the page (a widget callback's exception would only reach the log)."
    methods, items, names = setup
    class Twice(ZeroShot):
        name = 'twice'
        def forward(self, x): self.image_features(x); return super().forward(x)
    ex = Explorer(Twice(methods['zs'].backbone, names), items[:2])
    assert 'RuntimeError' not in ex.status.value
    ex.overlay.value = True
    assert 'RuntimeError' in ex.status.value and 'exactly one' in ex.status.value
