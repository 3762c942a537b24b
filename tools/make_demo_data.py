#!/usr/bin/env python
"""Generate medprompt's bundled demo dataset: synthetic histology-like tiles in four visibly different classes.

    python tools/make_demo_data.py [--out medprompt/assets/demo] [--seed 0] [--per-class 48] [--size 96]

Layout written (the folder layout `medprompt.data.load_dataset` reads):

    <out>/{train,val,test}/<class folder>/<class folder>_<nnn>.png
    <out>/descriptions.json     hand-written descriptions of each class, for LLM-prompt methods

Classes (folder name -> class name used in prompts, underscores read as spaces):

    tissue_with_round_nodules        a few large dark round blobs
    tissue_with_elongated_fibres     long thin dark strokes at random angles
    tissue_with_scattered_small_cells  many small dark dots
    empty_tissue                     background texture only

Every tile shares the same kind of background (smooth pink/grey "stain" texture plus noise), so
only the structure tells the classes apart. Images are stored in mixed modes -- 8-bit grayscale,
RGB, a few RGBA and 16-bit grayscale ('I;16') -- cycled by index, independent of the class, so
that loaders are exercised on every kind of PNG without the mode giving the class away.

Deterministic: everything is drawn from `numpy.random.default_rng([seed, class, index])` and drawn
with PIL, so the same seed gives pixel-identical images on every machine. Per class, the first 60%
of the tiles go to train, the next 20% to val and the rest to test. numpy + Pillow only.
"""
import argparse, json, shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ['tissue_with_round_nodules', 'tissue_with_elongated_fibres', 'tissue_with_scattered_small_cells', 'empty_tissue']
# Hand-written descriptions of each class (class name -> sentences), written next to the images as
# descriptions.json, so that knowledge-guided prompt methods (BiomedCoOp, CILMP) run on the demo too.
DESCRIPTIONS = {
    'tissue with round nodules': [
        'A tissue tile with a few large, dark, round nodules on a pale background.',
        'Two to four well-circumscribed circular dark masses sit in otherwise smooth tissue.',
        'Large dark spherical blobs with smooth edges dominate the image.',
        'The tissue shows several big round dense nodules, each much wider than a cell.',
        'Round, solid, dark lesions with sharp circular borders are scattered over light tissue.',
        'A few big dark discs, some overlapping, stand out against a mottled pale background.',
    ],
    'tissue with elongated fibres': [
        'A tissue tile crossed by long, thin, dark straight fibres at random angles.',
        'Several elongated dark strands run across the image and often intersect.',
        'Thin linear streaks, much longer than they are wide, cover the pale tissue.',
        'The tissue shows straight fibrous bands in many directions, like scattered needles.',
        'Long narrow dark lines traverse the tile from edge to edge.',
        'Fibre-like straight structures with no round shapes lie on a smooth background.',
    ],
    'tissue with scattered small cells': [
        'A tissue tile dotted with many small dark round cells spread evenly across it.',
        'Dozens of tiny dark dots are scattered all over a pale mottled background.',
        'Numerous small punctate nuclei fill the image, none larger than a few pixels.',
        'The tissue is densely sprinkled with small dark cells and has no large masses or fibres.',
        'Many tiny round dark spots are distributed randomly over the whole tile.',
        'A speckled pattern of small cell nuclei covers light tissue.',
    ],
    'empty tissue': [
        'A tissue tile with only a smooth pale mottled background and no structures.',
        'Empty tissue: no nodules, no fibres and no cells, just soft uneven staining.',
        'The image shows a featureless light background with gentle blotchy texture.',
        'Plain tissue without any dark objects, lines or dots.',
        'A uniform, pale, slightly cloudy field with nothing in it.',
        'Background-only tissue whose texture varies smoothly and contains no distinct shapes.',
    ],
}
MODES = ['RGB', 'L', 'RGB', 'L', 'RGB', 'L', 'RGBA', 'RGB', 'L', 'I;16']   # cycled by image index

def background(rng, size):
    "Smooth stain-like texture: blurred noise at two scales, in [0, 1]."
    coarse = Image.fromarray((rng.random((size//8, size//8))*255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    fine = Image.fromarray((rng.random((size, size))*255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    a = 0.7*np.asarray(coarse, np.float32)/255 + 0.3*np.asarray(fine, np.float32)/255
    return 0.75 + 0.2*(a - a.mean())   # light tissue

def structure(rng, cls, size):
    "A mask in [0, 1] holding the class's structures (dark ink where 1)."
    m = Image.new('L', (size, size), 0)
    d = ImageDraw.Draw(m)
    if cls == 'tissue_with_round_nodules':
        for _ in range(rng.integers(2, 5)):
            r = rng.uniform(0.08, 0.16)*size
            x, y = rng.uniform(r, size-r, 2)
            d.ellipse([x-r, y-r, x+r, y+r], fill=int(rng.integers(170, 230)))
    elif cls == 'tissue_with_elongated_fibres':
        for _ in range(rng.integers(4, 8)):
            x, y = rng.uniform(0, size, 2)
            t, l = rng.uniform(0, np.pi), rng.uniform(0.4, 0.9)*size
            dx, dy = np.cos(t)*l/2, np.sin(t)*l/2
            d.line([x-dx, y-dy, x+dx, y+dy], fill=int(rng.integers(170, 230)), width=int(rng.integers(2, 4)))
    elif cls == 'tissue_with_scattered_small_cells':
        for _ in range(rng.integers(40, 80)):
            r = rng.uniform(1.2, 2.6)
            x, y = rng.uniform(0, size, 2)
            d.ellipse([x-r, y-r, x+r, y+r], fill=int(rng.integers(170, 230)))
    return np.asarray(m.filter(ImageFilter.GaussianBlur(0.8)), np.float32)/255

def tile(seed, ci, i, size):
    "The `i`-th tile of class index `ci`, as a PIL image in the mode `MODES` assigns to `i`."
    rng = np.random.default_rng([seed, ci, i])
    g = np.clip(background(rng, size)*(1 - 0.7*structure(rng, CLASSES[ci], size)) + rng.normal(0, 0.01, (size, size)), 0, 1)
    mode = MODES[i % len(MODES)]
    if mode == 'L': return Image.fromarray((g*255).astype(np.uint8))
    if mode == 'I;16': return Image.fromarray((g*65535).astype(np.uint16))   # PIL stores uint16 arrays as 'I;16'
    stain = np.array([0.95, 0.72, 0.88]) + rng.normal(0, 0.03, 3)   # eosin-like pink, hematoxylin-dark structures
    rgb = np.clip(g[..., None]*stain, 0, 1)
    img = Image.fromarray((rgb*255).astype(np.uint8))
    if mode == 'RGBA': img.putalpha(255)
    return img

def main(out:Path, seed:int=0, per_class:int=48, size:int=96):
    tmp = out.with_name(f'.{out.name}.tmp')
    if tmp.exists(): shutil.rmtree(tmp)
    n_train, n_val = round(0.6*per_class), round(0.2*per_class)
    for ci, cls in enumerate(CLASSES):
        for i in range(per_class):
            split = 'train' if i < n_train else 'val' if i < n_train+n_val else 'test'
            p = tmp/split/cls/f'{cls}_{i:03d}.png'
            p.parent.mkdir(parents=True, exist_ok=True)
            tile(seed, ci, i, size).save(p, optimize=True)
    (tmp/'descriptions.json').write_text(json.dumps(DESCRIPTIONS, indent=1) + '\n')
    if out.exists(): shutil.rmtree(out)
    tmp.rename(out)   # the old dataset is replaced only once the new one is complete
    n = sum(1 for _ in out.rglob('*.png'))
    kb = sum(f.stat().st_size for f in out.rglob('*.png'))/1024
    print(f'wrote {n} images ({kb:.0f} KiB) to {out}')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', type=Path, default=Path(__file__).resolve().parents[1]/'medprompt'/'assets'/'demo')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--per-class', type=int, default=48)
    ap.add_argument('--size', type=int, default=96)
    a = ap.parse_args()
    main(a.out, a.seed, a.per_class, a.size)
