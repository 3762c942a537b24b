"Backbone behaviour that crosses notebooks or needs a fresh process."
import os, subprocess, sys, textwrap
import torch
from medprompt.backbones import load_backbone, save_tiny_backbone, BIOMEDCLIP_HUB_ID
from medprompt.core import assert_close_rel
from medprompt.prompts import ContextPrompt, fill_template


def test_biomedclip_offline_fails_fast_with_actionable_error(tmp_path):
    "In a fresh process with no cache and an unreachable hub, loading BiomedCLIP stops with our message."
    env = {**os.environ, 'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HOME': str(tmp_path/'hf'), 'HF_HUB_CACHE': str(tmp_path/'hf'/'hub')}
    code = textwrap.dedent("""
        from medprompt.backbones import load_backbone, BackboneUnavailableError
        try: load_backbone('biomedclip')
        except BackboneUnavailableError as e: print('UNAVAILABLE', e)
    """)
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'UNAVAILABLE' in out.stdout and BIOMEDCLIP_HUB_ID in out.stdout and "load_backbone('<folder>')" in out.stdout


def test_biomedclip_layout_folder_loads_offline(tmp_path):
    "A folder in BiomedCLIP's hub layout (text config in a sub-folder) loads with the hub unreachable."
    folder = save_tiny_backbone(tmp_path/'bmc', 'hf')
    env = {**os.environ, 'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HUB_OFFLINE': '1', 'HF_HOME': str(tmp_path/'hf')}
    code = f"from medprompt.backbones import load_backbone; b = load_backbone({str(folder)!r}); print(b.text.kind, b.vision.kind)"
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['hf', 'timm']


def test_tiny_is_the_same_model_everywhere(tmp_path):
    "The tiny backbone is a function of its seed: two independent builds have identical weights."
    a, b = save_tiny_backbone(tmp_path/'a', 'hf'), save_tiny_backbone(tmp_path/'b', 'hf')
    sa, sb = torch.load(a/'open_clip_pytorch_model.bin'), torch.load(b/'open_clip_pytorch_model.bin')
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_context_prompt_anchor_on_both_towers():
    "CoOp's anchor, across notebooks: 'a photo of a' context == the backbone's own prompt features."
    for spec in ('tiny', 'tiny-clip'):
        bb = load_backbone(spec)
        classes = ['benign lesion', 'malignant tumour', 'normal tissue', 'cyst']
        ref = bb.encode_text(bb.tokenize(fill_template('a photo of a {}.', classes)))
        assert_close_rel(ContextPrompt(bb, classes)(), ref, msg=spec)
