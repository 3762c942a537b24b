"""Evaluation pass of a prompted method: class prompts encoded for every batch vs once per pass (`text_once_per_pass`).

CoOp on cached image features (random, N images), C classes, batch B: the same logits either way; the ratio of the
times is what encoding the image-independent class prompts once per pass buys.

    python benchmarks/eval_speed.py                          # tiny backbone, CPU, C=10, batch 100
    python benchmarks/eval_speed.py --classes 50 --bs 4
    python benchmarks/eval_speed.py --biomedclip-sized       # BiomedCLIP's architecture with random weights (no download)

Ratios, not absolute times, are the result.
"""
import argparse
import torch
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from medprompt.backbones import load_backbone
from medprompt.core import assert_close_rel, isolated_rng
from medprompt.data import FeatureItems
from medprompt.methods.coop import CoOp
from medprompt.train import loader_logits
from speed import biomedclip_sized, timeit

def per_batch_logits(method, dl)->torch.Tensor:
    "The evaluation pass as before: every batch runs the text tower over the C class prompts."
    method.eval()
    with torch.no_grad(): return torch.cat([method(xb.to(method.backbone.device)).float().cpu() for xb, _ in dl])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--classes', type=int, default=10); p.add_argument('--bs', type=int, default=100)
    p.add_argument('--n', type=int, default=1000, help='images in the pass'); p.add_argument('--reps', type=int, default=5)
    p.add_argument('--biomedclip-sized', action='store_true', help="BiomedCLIP's architecture with random weights instead of --backbone")
    a = p.parse_args()
    bb = biomedclip_sized(a.device) if a.biomedclip_sized else load_backbone(a.backbone, device=a.device)
    with isolated_rng(0):
        coop = CoOp(bb, [f'class {i}' for i in range(a.classes)])
        feats = torch.randn(a.n, 1, bb.embed_dim)
    dl = DataLoader(FeatureItems(feats, torch.arange(a.n) % a.classes), bs=a.bs)
    assert_close_rel(loader_logits(coop, dl)[0], per_batch_logits(coop, dl), rtol=1e-5, msg='once-per-pass vs per-batch logits')
    t_batch = timeit(lambda: per_batch_logits(coop, dl), a.reps, warmup=1)
    t_once = timeit(lambda: loader_logits(coop, dl), a.reps, warmup=1)
    print(f'{bb.id}, CoOp evaluation pass of {a.n} images, C={a.classes}, batch {a.bs} ({len(dl)} batches): '
          f'class prompts per batch {t_batch:.3f} s vs once per pass {t_once:.3f} s: {t_batch/t_once:.1f}x faster (same logits)')

if __name__ == '__main__': main()
