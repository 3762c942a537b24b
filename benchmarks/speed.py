"""Speed ratios behind medprompt's design choices (DESIGN.md, "Speed, by construction").

Prints, for one backbone:
1. text tower: prompts padded to the longest prompt vs to the full context length (256 for BiomedCLIP);
2. a CoOp training step on cached image features vs on images (the image tower runs every step);
3. BiomedCoOp's teacher features encoded once vs per step (the 50 descriptions x classes of the prompt bank).

    python benchmarks/speed.py                       # tiny backbone, CPU
    python benchmarks/speed.py --backbone biomedclip --device cuda

Ratios, not absolute times, are the result: they are what the design promises.
"""
import argparse, time
import torch, torch.nn.functional as F
from medprompt.backbones import load_backbone
from medprompt.data import load_dataset, llm_prompt_bank, DATASETS
from medprompt.methods.coop import CoOp

def timeit(fn, reps:int, warmup:int=2)->float:
    "Median seconds of `fn()` over `reps` runs, after `warmup` runs."
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        t = time.perf_counter(); fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts)//2]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--bs', type=int, default=32); p.add_argument('--reps', type=int, default=10)
    a = p.parse_args()
    bb = load_backbone(a.backbone, device=a.device)
    classes = list(DATASETS['BTMRI'].classnames)
    prompts = [f'a photo of a {c}.' for c in classes]

    short = bb.tokenize(prompts)
    full = bb.tokenizer(prompts).to(bb.device)
    with torch.no_grad():
        t_short = timeit(lambda: bb.encode_text(short), a.reps)
        t_full = timeit(lambda: bb.encode_text(full), a.reps)
    print(f'text tower, {len(prompts)} prompts: padded to {short.shape[1]} tokens vs {full.shape[1]}: '
          f'{t_full/t_short:.1f}x faster')

    coop = CoOp(bb, classes).to(bb.device)
    opt = torch.optim.SGD([coop.prompt.ctx], lr=1e-3)
    imgs = torch.randn(a.bs, 3, bb.image_size, bb.image_size, device=bb.device)
    y = torch.randint(len(classes), (a.bs,), device=bb.device)
    with torch.no_grad(): feats = bb.encode_image(imgs)
    def step(x):
        opt.zero_grad(); F.cross_entropy(coop(x), y).backward(); opt.step()
    t_img, t_feat = timeit(lambda: step(imgs), a.reps), timeit(lambda: step(feats), a.reps)
    print(f'CoOp step, batch {a.bs}: cached features vs images: {t_img/t_feat:.1f}x faster')

    bank = llm_prompt_bank(classes)
    texts = [d for c in classes for d in bank[c]]
    t_bank = timeit(lambda: bb.encode_texts(texts), max(2, a.reps//3), warmup=1)
    print(f'BiomedCoOp teacher: encoding its {len(texts)} descriptions once instead of every step saves '
          f'{t_bank/t_feat:.1f}x the cost of a whole feature-cached training step, per step')

if __name__ == '__main__': main()
