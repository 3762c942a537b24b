"Prediction as a user meets it: train, save, load in a fresh process, classify image files; fastai's own calls on every method."
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pandas as pd
import pytest, torch
from medprompt.core import assert_close_rel, seed_everything
from medprompt.backbones import load_backbone
from medprompt.data import DATASETS, load_dataset, fewshot_dataset, feature_dataloaders, image_dataloaders
from medprompt.train import all_methods, method_learner, fit, evaluate, loader_logits, save_method, load_method
from medprompt.methods.coop import CoOp

REPO = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def demo():
    bb = load_backbone('tiny')
    full = load_dataset('demo')
    ds = fewshot_dataset(full, 8, seed=1)
    return bb, full, ds, feature_dataloaders(ds, bb, bs=8, progress=False)

def test_predict_round_trip_in_a_fresh_process(demo, tmp_path):
    "CoOp trained on the demo, saved, loaded in a new process: `predict` by path and `predict_command`'s CSV give `evaluate`'s accuracy."
    bb, full, ds, dls = demo
    seed_everything(0)
    coop = CoOp(bb, ds.classnames)
    fit(method_learner(coop, dls, coop.recipe.replace(epochs=5, bs=8), quiet=True))
    logits, _ = loader_logits(coop, dls[2])
    acc = evaluate(coop, dls[2])
    ckpt = save_method(coop, tmp_path/'coop.pt')
    paths = [str(p) for p, _ in full.test]
    (tmp_path/'paths.json').write_text(json.dumps(paths))
    code = textwrap.dedent(f"""
        import json
        from medprompt.train import load_method
        from medprompt.inference import predict, predict_command
        paths = json.load(open({str(tmp_path/'paths.json')!r}))
        table = predict(load_method({str(ckpt)!r}), paths, bs=7)
        print(json.dumps(table['class'].tolist()))
        assert predict_command({str(ckpt)!r}, paths, csv={str(tmp_path/'pred.csv')!r}, echo=lambda s: None) == 0
    """)
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    predicted = json.loads(out.stdout.strip().splitlines()[-1])
    truth = [full.classnames[l] for _, l in full.test]
    # Another process, batch size and image path: the logits agree up to rounding, so the classes agree wherever the
    # top two logits are further apart than rounding can move them (near-ties may fall either way on another CPU).
    top2 = logits.topk(2, -1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-4 * logits.abs().max()
    assert [str(p) for p, _ in ds.test] == paths                         # the test loader keeps the folder's order
    expected = [full.classnames[i] for i in logits.argmax(-1).tolist()]
    assert [p for p, c in zip(predicted, clear) if c] == [e for e, c in zip(expected, clear) if c]
    assert clear.sum() >= len(truth) - 2, 'the planted check needs clear decisions'
    assert_close_rel(100 * sum(e == t for e, t in zip(expected, truth)) / len(truth), acc)
    csv = pd.read_csv(tmp_path/'pred.csv')
    assert csv['item'].tolist() == paths and csv['class'].tolist() == predicted
    assert list(csv.columns) == ['item', 'class', 'probability'] + [f'p({c})' for c in full.classnames]
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]   # written atomically
    shell = subprocess.run([sys.executable, '-c', 'import sys; from medprompt.cli import main; sys.exit(main())', 'predict', str(ckpt),
                            str(full.root/'test'), '--csv', str(tmp_path/'shell.csv')], capture_output=True, text=True, env=env, timeout=600)
    assert shell.returncode == 0, shell.stderr[-2000:]
    by_path = pd.read_csv(tmp_path/'shell.csv').set_index('item')['class']   # `medprompt predict` on the test folder: the same classes
    shell_classes = [by_path[p] for p in paths]
    assert [s for s, c in zip(shell_classes, clear) if c] == [p for p, c in zip(predicted, clear) if c]

@pytest.mark.parametrize('name', sorted(all_methods()))
def test_plain_fastai_calls_work_for_every_method(demo, name):
    "`learn.fit` prepares every method (Tip-Adapter's cache, the probe's C search); per-item losses average to the loss."
    bb, _, ds, dls = demo
    cls = all_methods()[name]
    if not cls.uses_image_features: dls = image_dataloaders(ds, bb, bs=8, num_workers=0)   # methods that prompt the image tower
    torch.manual_seed(0)
    m = cls(bb, ds.classnames, **cls.dataset_settings(DATASETS['demo']))   # what the demo's registry entry gives (CILMP: tiny LLM reps)
    learn = method_learner(m, dls, cls.recipe.replace(bs=8), quiet=True)
    learn.fit(1)
    if name in ('tip_adapter', 'tip_adapter_f'): assert len(m.cache_keys) == len(ds.train)
    if name == 'linear_probe': assert not torch.isnan(m.C) and len(m.search) > 1
    probs, y, losses = learn.get_preds(with_loss=True)
    assert losses.shape == y.shape and probs.shape == (len(y), len(ds.classnames))
    assert_close_rel(losses.mean(), torch.tensor(learn.validate()[0]), rtol=1e-3)

def _saved(method, dls, path):
    fit(method_learner(method, dls, method.recipe.replace(epochs=1, bs=8), quiet=True))
    return save_method(method, path)

def test_new_classes_transfer_a_unified_context(demo, tmp_path):
    bb, _, ds, dls = demo
    coop = CoOp(bb, ds.classnames)
    p = _saved(coop, dls, tmp_path/'coop.pt')
    novel = load_method(p, classnames=['glioma', 'meningioma', 'no tumor'], new_classes=True)
    assert novel.classnames == ['glioma', 'meningioma', 'no tumor']
    assert torch.equal(novel.prompt.ctx.cpu(), coop.prompt.ctx.cpu())
    assert novel(dls.one_batch()[0].cpu()).shape[-1] == 3

@pytest.mark.parametrize('name,kwargs', [('coop', dict(csc=True)), ('linear_probe', dict(C=1.)), ('lp++', {}),
                                         ('tip_adapter', {}), ('tip_adapter_f', {})])
def test_new_classes_refuse_class_specific_state(demo, tmp_path, name, kwargs):
    "Class-specific contexts, linear heads and Tip-Adapter caches cannot classify other classes: a one-line error naming the file."
    bb, _, ds, dls = demo
    p = _saved(all_methods()[name](bb, ds.classnames, **kwargs), dls, tmp_path/f'{name}.pt')
    for names in (['glioma', 'meningioma'], ['glioma', 'meningioma', 'no tumor', 'pituitary', 'other']):
        with pytest.raises(ValueError, match='cannot classify new classes') as e:
            load_method(p, classnames=names, new_classes=True)
        assert str(p) in str(e.value) and '\n' not in str(e.value)
    assert load_method(p).classnames == ds.classnames   # the saved classes still load
