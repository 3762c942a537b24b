"""What the faithful augmentation costs on the cached-feature path (DESIGN.md, "Speed, by construction").

The reference draws a fresh random crop of every training image at every step. medprompt's default
caches one augmented view per image per epoch (epoch e reads view e), so the image tower runs once per
image and epoch -- the reference's own count -- and a re-run, or any other method trained for the same
number of epochs, reads the views from disk. Without augmentation (`views=0`) the tower runs once per
image, whatever the number of epochs.

Prints, for one backbone and a CoOp run of E epochs on the demo data:
1. feature encoding: E augmented views per image vs the one un-augmented view;
2. training on the cached features (identical work in both settings);
3. the whole first run and a re-run (views cached), faithful vs no augmentation;
4. the faithful run vs training on images, the reference's way (a fresh crop through the tower every step).

    python benchmarks/augment_cost.py                        # tiny backbone, CPU
    python benchmarks/augment_cost.py --backbone biomedclip --device cuda --epochs 100

Ratios, not absolute times, are the result.
"""
import argparse, os, tempfile, time
import torch

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--epochs', type=int, default=20); p.add_argument('--shots', type=int, default=16)
    a = p.parse_args()
    os.environ['MEDPROMPT_CACHE'] = tempfile.mkdtemp(prefix='augment_cost-')   # a fresh cache: encoding is really done
    from medprompt.backbones import load_backbone
    from medprompt.core import seed_everything
    from medprompt.data import load_dataset, fewshot_dataset, feature_dataloaders, image_dataloaders
    from medprompt.methods.coop import CoOp
    from medprompt.train import method_learner, fit

    bb = load_backbone(a.backbone, device=a.device)
    ds = fewshot_dataset(load_dataset('demo'), a.shots, seed=1)
    recipe = CoOp.recipe.replace(epochs=a.epochs)

    def timed(fn):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        t = time.perf_counter(); out = fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        return time.perf_counter() - t, out

    def train(dls):
        seed_everything(1)
        return timed(lambda: fit(method_learner(CoOp(bb, ds.classnames), dls, recipe, quiet=True)))[0]

    res = {}
    for name, views in (('faithful', a.epochs), ('no augmentation', 0)):
        t_enc, dls = timed(lambda: feature_dataloaders(ds, bb, bs=recipe.bs, views=views, progress=False))
        t_again, dls = timed(lambda: feature_dataloaders(ds, bb, bs=recipe.bs, views=views, progress=False))
        res[name] = dict(enc=t_enc, reread=t_again, train=train(dls))
    t_images = train(image_dataloaders(ds, bb, bs=recipe.bs, num_workers=0))
    f, n = res['faithful'], res['no augmentation']
    n_img = len(ds.train)
    print(f'{a.backbone}, CoOp, {n_img} training images, {a.epochs} epochs (batch {recipe.bs}):')
    print(f'feature encoding: {a.epochs} augmented views per image vs 1 un-augmented: {f["enc"]:.2f}s vs {n["enc"]:.2f}s '
          f'({f["enc"]/n["enc"]:.1f}x the encoding time)')
    print(f'training on cached features: {f["train"]:.2f}s vs {n["train"]:.2f}s ({f["train"]/n["train"]:.2f}x)')
    print(f'first run, faithful vs no augmentation: {(f["enc"]+f["train"])/(n["enc"]+n["train"]):.1f}x the time; '
          f'encoding is {f["enc"]/(f["enc"]+f["train"]):.0%} of the faithful run')
    print(f're-run with the views cached: {(f["reread"]+f["train"])/(n["reread"]+n["train"]):.2f}x the time of no augmentation')
    print(f'training on images (the reference: a crop through the tower every step): {t_images:.2f}s; the faithful cache is '
          f'{t_images/(f["enc"]+f["train"]):.1f}x faster on a first run and {t_images/(f["reread"]+f["train"]):.1f}x faster on a re-run')

if __name__ == '__main__': main()
