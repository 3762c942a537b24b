"The benchmark's backbones (BiomedCLIP, CLIP, PubMedCLIP, PMC-CLIP, HF CLIP): released layouts offline, every text-side method on each."
import os, subprocess, sys, textwrap
import pytest, torch
from medprompt.backbones import load_backbone
from medprompt.data import load_dataset, fewshot_dataset, feature_dataloaders, image_dataloaders
from medprompt.train import all_methods, method_learner, fit, evaluate
from medprompt.core import assert_close_rel

TINY = ['tiny', 'tiny-clip', 'tiny-pubmedclip', 'tiny-pmc-clip', 'tiny-hf-clip']
TEXT_SIDE = ['zeroshot', 'linear_probe', 'lp++', 'coop', 'cocoop', 'kgcoop', 'prograd', 'clip_adapter',
             'tip_adapter', 'tip_adapter_f', 'biomedcoop', 'biomed_dpt']
KWARGS = {'biomed_dpt': dict(n_vision_tokens=0),       # Biomed-DPT's text side, by its explicit option
          'linear_probe': dict(steps=2, max_iter=100)}  # a short C search: this test is about running, not about C


def _offline_env(tmp_path)->dict:
    return {**os.environ, 'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path/'hf'),
            'HF_HUB_CACHE': str(tmp_path/'hf'/'hub')}


def test_released_layouts_load_offline(tmp_path):
    "Each tiny model, written in its released file layout, loads in a fresh process with no hub and no cache."
    from medprompt.backbones import save_tiny_backbone
    folders = {k: save_tiny_backbone(tmp_path/k, k) for k in ('pubmedclip', 'pmc-clip', 'hf-clip')}
    code = "from medprompt.backbones import load_backbone\n" + "".join(
        f"b = load_backbone({str(f)!r}); print({k!r}, b.text.kind, type(b.model.visual).__name__, tuple(b.encode_text(b.tokenize('a photo')).shape))\n"
        for k,f in folders.items())
    out = subprocess.run([sys.executable, '-c', code], env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split('\n')[:3] == ["pubmedclip clip VisionTransformer (1, 32)", "pmc-clip hf ModifiedResNet (1, 32)",
                                          "hf-clip clip VisionTransformer (1, 32)"]


def test_released_names_offline_fail_fast_naming_the_files(tmp_path):
    "Without the hub, 'pubmedclip' and 'pmc-clip' stop at once with the files to place and where."
    code = textwrap.dedent("""
        import time
        from medprompt.backbones import load_backbone, BackboneUnavailableError
        for name in ('pubmedclip', 'pmc-clip'):
            t = time.time()
            try: load_backbone(name)
            except BackboneUnavailableError as e: print('UNAVAILABLE', round(time.time() - t, 1), e)
    """)
    out = subprocess.run([sys.executable, '-c', code], env=_offline_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith('UNAVAILABLE')]
    assert len(lines) == 2, out.stdout
    assert 'PubMedCLIP_ViT32.pth' in lines[0] and 'sarahESL/PubMedCLIP' in lines[0]
    assert all(f in lines[1] for f in ('image_encoder(resnet50).pth', 'text_encoder.pth', 'text_projection_layer.pth', 'axiong/pmc_oa'))
    assert all(float(l.split()[1]) < 10 for l in lines)


@pytest.fixture(scope='module')
def demo2():
    return fewshot_dataset(load_dataset('demo'), 2, seed=1)


@pytest.mark.parametrize('spec', TINY)
def test_every_text_side_method_trains_and_evaluates_on_each_backbone(spec, demo2):
    "The same method code on every tiny backbone: one epoch on 2 shots, then a test accuracy."
    bb, methods = load_backbone(spec), all_methods()
    feats = feature_dataloaders(demo2, bb, bs=8, progress=False)
    for name in TEXT_SIDE:
        cls = methods[name]
        torch.manual_seed(0)
        dls = feats if cls.uses_image_features else image_dataloaders(demo2, bb, bs=8, num_workers=0)
        m = cls(bb, demo2.classnames, **KWARGS.get(name, {}))
        fit(method_learner(m, dls, cls.recipe.replace(epochs=min(cls.recipe.epochs, 1), bs=8), quiet=True))
        assert 0 <= evaluate(m, dls[2]) <= 100, (spec, name)


def test_vision_prompt_methods_on_a_resnet_tower_say_so(demo2):
    "VPT, MaPLe and Biomed-DPT's vision tokens need a ViT: on PMC-CLIP a clear error, not a crash inside the tower."
    bb, methods = load_backbone('tiny-pmc-clip'), all_methods()
    for name in ('vpt', 'maple', 'biomed_dpt'):
        with pytest.raises(ValueError, match='cannot take vision prompts'): methods[name](bb, demo2.classnames)


@pytest.mark.parametrize('spec', ['tiny-pubmedclip', 'tiny-hf-clip'])
def test_vision_prompt_methods_run_on_the_converted_vits(spec, demo2):
    "PubMedCLIP and HF CLIP models become open_clip ViTs: VPT and MaPLe prompt them like CLIP, gradients reach the prompts."
    bb, methods = load_backbone(spec), all_methods()
    for name in ('vpt', 'maple'):
        m = methods[name](bb, demo2.classnames)
        logits = m(torch.randn(2, 3, 224, 224))
        assert logits.shape == (2, len(demo2.classnames))
        logits.sum().backward()
        assert all(p.grad is not None for p in m.parameters() if p.requires_grad and p.numel()), name


@pytest.mark.parametrize('spec', ['tiny-pubmedclip', 'tiny-pmc-clip', 'tiny-hf-clip'])
def test_a_saved_method_reloads_on_its_backbone(spec, demo2, tmp_path):
    "A checkpoint names its backbone by spec: `load_method` rebuilds it from the released layout and gives the same logits."
    from medprompt.train import save_method, load_method
    bb = load_backbone(spec)
    m = all_methods()['coop'](bb, demo2.classnames)
    with torch.no_grad(): m.prompt.ctx.add_(torch.randn_like(m.prompt.ctx))   # a learned state that differs from the init
    x = torch.randn(3, bb.embed_dim)
    with torch.no_grad(): ref = m.eval()(x)
    back = load_method(save_method(m, tmp_path/'coop.pt'))
    assert back.backbone.id == spec
    with torch.no_grad(): assert_close_rel(back.eval()(x), ref, msg=spec)
