"The engine at the speed limit: class prompts encoded once per evaluation pass, with the logits of the per-batch computation, for every method."
import dataclasses
import pytest, torch
from medprompt.core import assert_close_rel
from medprompt.backbones import load_backbone
from medprompt.data import DATASETS, load_dataset, fewshot_dataset, feature_dataloaders, image_dataloaders
from medprompt.train import all_methods, method_learner, loader_logits

IMAGE_CONDITIONED = {'cocoop', 'cilmp'}   # prompts depend on each image: encoded every batch, as before

@pytest.fixture(scope='module')
def demo():
    "The tiny backbone, 8 shots of the demo, and a test split of all 192 demo images (two batches of up to 100)."
    bb, full = load_backbone('tiny'), load_dataset('demo')
    ds = dataclasses.replace(fewshot_dataset(full, 8, seed=1), test=full.train + full.val + full.test)
    return bb, ds, feature_dataloaders(ds, bb, bs=100, progress=False), image_dataloaders(ds, bb, bs=100, num_workers=0)

def tower_calls(bb, run):
    "(result of `run()`, forwards of the text tower's transformer during it)."
    n = [0]
    h = bb.text.encoder.transformer.register_forward_hook(lambda *_: n.__setitem__(0, n[0] + 1))
    try: return run(), n[0]
    finally: h.remove()

@pytest.mark.parametrize('name', sorted(all_methods()))
def test_once_per_pass_gives_the_per_batch_logits(demo, name):
    "At batch 100, every method's evaluation pass gives the logits of encoding per batch; prompts that do not depend on the image run the text tower once per pass."
    bb, ds, fdls, idls = demo
    cls = all_methods()[name]
    dls = fdls if cls.uses_image_features else idls
    torch.manual_seed(0)
    m = cls(bb, ds.classnames, **cls.dataset_settings(DATASETS['demo']))
    method_learner(m, dls, cls.recipe.replace(bs=100), quiet=True).fit(0)   # prepare only (Tip-Adapter's cache, the probe's fit)
    m.eval()
    def per_batch():
        with torch.no_grad(): return torch.cat([m(xb) for xb, _ in dls[2]])
    (slow, n_slow), ((fast, _), n_fast) = tower_calls(bb, per_batch), tower_calls(bb, lambda: loader_logits(m, dls[2]))
    assert len(dls[2]) == 2 and len(fast) == 192
    assert_close_rel(fast, slow, rtol=1e-5, msg=name)
    if name in IMAGE_CONDITIONED: assert n_fast == n_slow > 1, (n_fast, n_slow)
    else: assert n_fast == min(n_slow, 1), (n_fast, n_slow)

def test_the_issue_methods_reuse_their_class_prompts(demo):
    "The methods whose class prompts run through the text tower each forward, but do not depend on the image, encode them once per pass."
    bb, ds, fdls, idls = demo
    methods = all_methods()
    for name in ('coop', 'kgcoop', 'prograd', 'biomedcoop', 'maple', 'biomed_dpt'):
        m = methods[name](bb, ds.classnames)
        dls = fdls if m.uses_image_features else idls
        learn = method_learner(m, dls, quiet=True)
        assert tower_calls(bb, lambda: learn.get_preds(dl=dls[2]))[1] == 1, name

def test_export_load_learner_round_trip_in_a_fresh_process(demo, tmp_path):
    "`learn.export()` of a trained CoOp, fastai's `load_learner` in a new process: the same predictions; the backbone's weights stay out of the file."
    import json, os, subprocess, sys, textwrap
    from pathlib import Path
    from medprompt.methods.coop import CoOp
    from medprompt.train import fit
    bb, ds, fdls, _ = demo
    torch.manual_seed(0)
    learn = fit(method_learner(CoOp(bb, ds.classnames), fdls, CoOp.recipe.replace(epochs=2, bs=8), quiet=True))
    learn.path = tmp_path
    learn.export('coop.pkl')
    assert (tmp_path/'coop.pkl').stat().st_size < sum(p.numel() * p.element_size() for p in bb.parameters()) / 4
    feats = fdls[2].dataset.feats[:, 0]
    torch.save(feats, tmp_path/'x.pt')
    probs = torch.stack([learn.predict(x)[2] for x in feats])
    code = textwrap.dedent(f"""
        import warnings, torch
        from fastai.learner import load_learner
        warnings.simplefilter('ignore')
        learn = load_learner({str(tmp_path/'coop.pkl')!r})
        torch.save(torch.stack([learn.predict(x)[2] for x in torch.load({str(tmp_path/'x.pt')!r})]), {str(tmp_path/'p.pt')!r})
    """)
    env = {**os.environ, 'PYTHONPATH': str(Path(__file__).resolve().parents[1]), 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert_close_rel(torch.load(tmp_path/'p.pt'), probs, rtol=1e-5)

def test_show_batch_and_show_results_on_both_loader_kinds(demo):
    "`dls.show_batch()` on feature and image loaders shows images; `show_results` of the default cached-feature learner too."
    bb, ds, fdls, idls = demo
    from medprompt.methods.coop import CoOp
    for dls in (fdls, idls):
        fig = dls.show_batch(max_n=4)
        assert len([ax for ax in fig.axes if ax.get_images()]) == 4
    fig = method_learner(CoOp(bb, ds.classnames), fdls, quiet=True).show_results(max_n=3)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 3 and all('true:' in ax.get_title() for ax in fig.axes if ax.get_images())
