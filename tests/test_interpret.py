"Interpretability across notebooks: nearest words on both tokenisers, saliency shapes, determinism and the planted left-half case."
import pytest, torch, torch.nn.functional as F
from medprompt.core import assert_close_rel, seed_everything
from medprompt.backbones import load_backbone
from medprompt.interpret import (nearest_words, saliency, cls_attention, planted_images, uniform_attention, patch_grid,
                                 plot_saliency, plot_nearest_words, plot_attention_change)
from medprompt.methods.zeroshot import ZeroShot
from medprompt.methods.coop import CoOp
from medprompt.methods.vpt import VPT

CLASSES = ['adipose', 'lympho', 'mucosa', 'stroma']

@pytest.fixture(scope='module', params=['tiny', 'tiny-clip'])
def bb(request): return load_backbone(request.param)

def test_nearest_words_of_an_initialised_context_are_its_words(bb):
    t = nearest_words(CoOp(bb, CLASSES), k=2)
    top = t[t['rank'] == 1]
    assert top['token'].tolist() == ['a', 'photo', 'of', 'a']
    assert_close_rel(top['distance'].tolist(), [0.] * 4, atol=1e-5)
    assert (t[t['rank'] == 2]['distance'] > 0).all()
    plot_nearest_words(t)

def test_saliency_shapes_and_determinism(bb):
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    seed_everything(0)
    for m in (ZeroShot(bb, CLASSES), VPT(bb, CLASSES, depth=2, init_std=1.)):
        s = saliency(m, x)
        assert s.shape == (3, *patch_grid(bb)) and (s >= 0).all()
        assert saliency(m, x).numpy().tobytes() == s.numpy().tobytes()
    assert saliency(ZeroShot(bb, CLASSES), x, classes=[0, 1, 2]).shape == (3, 7, 7)
    plot_saliency(bb, x, {'a': s, 'b': s}, ['1', '2', '3'])
    with pytest.raises(ValueError, match='one map per image'): plot_saliency(bb, x, s[:2])

@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_planted_pattern_on_the_left_gets_the_saliency(bb, seed):
    "Class features from striped-left and blank images; a fresh striped image's saliency sits on its left half."
    u = uniform_attention(bb)
    striped, blank = planted_images(6, seed=seed)
    with torch.no_grad(): feats = torch.stack([F.normalize(u.encode_image(t), dim=-1).mean(0) for t in (striped[:4], blank)])
    m = ZeroShot(u, ['striped', 'blank']); m.class_features = F.normalize(feats, dim=-1)
    s = saliency(m, striped[4:], classes=[0, 0])
    left, right = s[..., :3].sum((1, 2)), s[..., 4:].sum((1, 2))
    assert (left > right).all(), (left, right)

def test_prompts_change_the_class_token_attention(bb):
    x = torch.randn(2, 3, 224, 224)
    plain = cls_attention(bb, x)
    assert plain['patches'].numpy().tobytes() == cls_attention(CoOp(bb, CLASSES), x)['patches'].numpy().tobytes()
    seed_everything(0)
    vpt = VPT(bb, CLASSES, init_std=1.)
    prompted = cls_attention(vpt, x)
    assert (prompted['prompts'] > 0).all() and (prompted['patches'] - plain['patches']).abs().max() > 1e-4
    assert_close_rel(prompted['patches'].sum((1, 2)) + prompted['prompts'] + prompted['prefix'], torch.ones(2))
    plot_attention_change(vpt, x)

def test_prompts_that_replace_patches_count_as_prompts(bb):
    "Biomed-DPT's default `replace` mode: its 4 tokens take the first patches' places, which read 0 on the grid."
    from medprompt.data import load_dataset
    from medprompt.methods.biomed_dpt import BiomedDPT
    x = torch.randn(2, 3, 224, 224)
    m = BiomedDPT(bb, load_dataset('demo').classnames)
    att = cls_attention(m, x)
    assert (att['prompts'] > 0).all() and (att['patches'].flatten(1)[:, :4] == 0).all() and (att['patches'].flatten(1)[:, 4:] > 0).all()
    assert_close_rel(att['patches'].sum((1, 2)) + att['prompts'] + att['prefix'], torch.ones(2))
    assert (saliency(m, x).flatten(1)[:, :4] == 0).all()
