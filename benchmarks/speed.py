"""Speed of medprompt against reference-style runs, measured per unit and extrapolated to the few-shot grid (DESIGN.md, "Speed, by construction").

Measured on one backbone (lines marked `measured`):
1. the text tower on 4 prompts padded to the longest prompt vs to the full context length (256 for BiomedCLIP);
2. the image tower's forward pass, per image: encoding a view, a reference training step's images, a test image;
3. a prompt step (CoOp) on cached image features, prompts padded to the longest prompt vs to the full context;
4. a Biomed-DPT step (image-space prompts: the image tower runs every step on both sides) as medprompt runs it vs
   reference-style (student prompts at the full context): images/s and peak memory.
Extrapolated from those units (lines marked `extrapolated`): the phases of one benchmark run (BiomedCoOp, BTMRI,
16 shots) ours vs reference-style, and the few-shot grid (11 datasets x 5 shot counts x 3 seeds) for one method
and for every method, with the sharing medprompt does (`medprompt.grid.share_features`).

`--biomedclip-sized` tokenises with a whole-word vocabulary of the shipped descriptions and templates (each word one
piece, built on the fly, the same every run), so prompts are as long in tokens as under PubMedBERT's (BTMRI's descriptions:
17.6 tokens on average, ~18 with PubMedBERT); its BERT-base embedding table keeps PubMedBERT's 30522 rows.

Not compared: teachers' text features (BiomedCoOp's description bank, KgCoOp's and Biomed-DPT's prompts) are
encoded once at set-up by medprompt and by the references alike, so they are no speed-up.

    python benchmarks/speed.py                               # tiny backbone, CPU: seconds
    python benchmarks/speed.py --biomedclip-sized            # BiomedCLIP's architecture, random weights (no download): ~3 min on 2 busy CPU cores
    python benchmarks/speed.py --biomedclip-sized --long     # 10 repetitions, batch 32: steadier numbers, roughly 4x as long
    python benchmarks/speed.py --backbone biomedclip --device cuda

Ratios, not absolute times, are the result; the grid totals are an estimate built from the measured units.
"""
import argparse, ctypes, tempfile, threading, time
from pathlib import Path
import numpy as np, open_clip, torch, torch.nn.functional as F
from tokenizers import normalizers, pre_tokenizers
from transformers import BertConfig
from medprompt.backbones import Backbone, load_backbone, build_wordpiece_vocab, wordpiece_tokenizer, _tiny_config, _resolve_text_cfg, _quiet_logs, TINY_TEXT_NAME
from medprompt.core import save_json_atomic
from medprompt.data import llm_prompt_bank, templates, read_split, DATASETS, BENCHMARKS
from medprompt.experiment import reference_settings, split_settings
from medprompt.grid import run_views
from medprompt.methods.coop import CoOp
from medprompt.methods.biomed_dpt import BiomedDPT
from medprompt.presets import preset
from medprompt.train import all_methods, clip_logits

PUBMEDBERT_VOCAB = 30522   # PubMedBERT's (uncased) vocabulary size: the embedding table of BiomedCLIP's text tower

def timeit(fn, reps:int, warmup:int=2)->float:
    "Median seconds of `fn()` over `reps` runs, after `warmup` runs (benchmarks/eval_speed.py's timer)."
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        if torch.cuda.is_available(): torch.cuda.synchronize()
        t = time.perf_counter(); fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts)//2]

def _seconds(fn)->float:
    "Seconds of one call of `fn`, the device synchronised before and after."
    if torch.cuda.is_available(): torch.cuda.synchronize()
    t = time.perf_counter(); fn()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return time.perf_counter() - t

def fastest_pair(a, b, reps:int, warmup:int=1)->tuple:
    "Fastest seconds of `a()` and of `b()` over `reps` alternating calls each, after `warmup` of each: both see the same load of a shared machine."
    for _ in range(warmup): a(); b()
    ts = [(_seconds(a), _seconds(b)) for _ in range(reps)]
    return min(t for t,_ in ts), min(t for _,t in ts)

def peak_memory_mib(fn)->float|None:
    "Memory (MiB) one call of `fn` needs at its peak above what was in use before: CUDA allocator peak, else sampled RSS (Linux)."
    if torch.cuda.is_available() and torch.cuda.memory_allocated() > 0:
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
        fn(); torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    try:
        import psutil
        ctypes.CDLL('libc.so.6').malloc_trim(0)   # hand freed heap pages back, so that new allocations raise the RSS
    except (ImportError, OSError): return None
    proc, peak, done = psutil.Process(), [0], threading.Event()
    def sample():
        while not done.is_set(): peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(5e-4)
    base = proc.memory_info().rss
    t = threading.Thread(target=sample); t.start()
    try: fn()
    finally: done.set(); t.join()
    return max(peak[0] - base, 0) / 2**20

# ---- a realistic vocabulary for the BiomedCLIP-sized model

def shipped_texts()->list[str]:
    "Every description of the shipped LLM prompt banks and every shipped class template filled with its dataset's classes."
    out = []
    for d in BENCHMARKS:
        info = DATASETS[d]
        out += [s for descs in llm_prompt_bank(d).values() for s in descs]
        tpls = templates('custom', d) + templates('imagenet') + [info.clinical_template]
        out += [t.format(c) for c in info.classnames for t in tpls]
    return out

def corpus_vocab(texts:list[str])->list[str]:
    "A BERT WordPiece vocabulary holding every word of `texts` whole (lower-cased and split as BERT splits), sorted: the same on every run."
    norm, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    return build_wordpiece_vocab({w for t in texts for w,_ in pre.pre_tokenize_str(norm.normalize_str(t))})

def mean_tokens(bb:Backbone, texts:list[str])->float:
    "Mean length in tokens, [CLS] and [SEP] included, of `texts` under the backbone's tokenizer."
    return float(np.mean([int(bb.tokenize([t]).shape[1]) for t in texts]))

def biomedclip_sized(device='cpu')->Backbone:
    "BiomedCLIP's architecture (ViT-B/16 timm trunk, BERT-base text tower at context 256, MLP projection) with random weights."
    with tempfile.TemporaryDirectory(prefix='biomedclip-sized-') as d: return _random_backbone(Path(d), device)

def _random_backbone(folder:Path, device)->Backbone:
    "Write the BiomedCLIP-sized config and a whole-word vocabulary of the shipped texts into `folder`; build the model, random weights."
    cfg = _tiny_config('hf')
    cfg['model_cfg']['embed_dim'] = 512
    cfg['model_cfg']['vision_cfg']['timm_model_name'] = 'vit_base_patch16_224'
    save_json_atomic(cfg, folder/'open_clip_config.json')
    vocab = corpus_vocab(shipped_texts())
    (folder/'vocab.txt').write_text('\n'.join(vocab) + '\n')
    wordpiece_tokenizer(vocab).save_pretrained(folder)
    BertConfig(vocab_size=PUBMEDBERT_VOCAB, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
               max_position_embeddings=512, pad_token_id=0).save_pretrained(folder/TINY_TEXT_NAME.split('/')[-1])
    text_cfg = _resolve_text_cfg(cfg['model_cfg']['text_cfg'], folder)
    with _quiet_logs():
        model, pre_train, pre_eval = open_clip.create_model_and_transforms(f'local-dir:{folder}', load_weights=False,
                                                                            pretrained_text=False, text_cfg=text_cfg, device=device)
    return Backbone(model, open_clip.get_tokenizer(f'local-dir:{folder}'), pre_train, pre_eval, id='biomedclip-sized-random')

# ---- measured units

def full_context_features(prompt, bb:Backbone)->torch.Tensor:
    "The learned prompts' text features with every prompt padded to the tower's full context, as the reference runs them."
    emb, ids = prompt.prompt_embeds(), prompt.token_ids
    ids_full = F.pad(ids, (0, bb.text.context_length - ids.shape[1]), value=bb.text.pad_id)
    pad = bb.token_embedding(ids_full[:, ids.shape[1]:]).to(emb.dtype)
    return bb.encode_text_embeds(torch.cat([emb, pad], 1), ids_full)

def text_tower(bb:Backbone, classes:list, reps:int):
    "Print the text tower's forward pass over the class prompts padded to the longest prompt vs to the full context."
    prompts = [f'a photo of a {c}.' for c in classes]
    short, full = bb.tokenize(prompts), bb.tokenizer(prompts).to(bb.device)
    with torch.no_grad(): t_short, t_full = fastest_pair(lambda: bb.encode_text(short), lambda: bb.encode_text(full), reps)
    print(f'measured: text tower, {len(prompts)} prompts padded to {short.shape[1]} tokens vs {full.shape[1]}: {t_full/t_short:.1f}x faster')

def image_forward(bb:Backbone, bs:int, reps:int)->float:
    "Measured seconds of the image tower's forward pass per image (batch `bs`, no gradients)."
    imgs = torch.randn(bs, 3, bb.image_size, bb.image_size, device=bb.device)
    with torch.no_grad(): bb.encode_image(imgs); t = min(_seconds(lambda: bb.encode_image(imgs)) for _ in range(reps)) / bs
    print(f'measured: image tower forward, batch {bs}: {t*1e3:.1f} ms per image')
    return t

def prompt_steps(bb:Backbone, classes:list, bs:int, reps:int)->tuple:
    "Measured seconds of a CoOp step on cached image features: prompts at the longest prompt (ours) and at the full context (reference-style)."
    coop = CoOp(bb, classes).to(bb.device)
    opt = torch.optim.SGD([coop.prompt.ctx], lr=1e-3)
    y = torch.randint(len(classes), (bs,), device=bb.device)
    with torch.no_grad(): feats = bb.encode_image(torch.randn(bs, 3, bb.image_size, bb.image_size, device=bb.device))
    def step(full:bool):
        opt.zero_grad()
        cls = full_context_features(coop.prompt, bb) if full else coop.prompt()
        F.cross_entropy(clip_logits(coop.image_features(feats), cls, coop.logit_scale), y).backward(); opt.step()
    ours, ref = fastest_pair(lambda: step(False), lambda: step(True), reps)
    print(f'measured: CoOp step on cached features, batch {bs}, {len(classes)} classes: prompts at {coop.prompt.token_ids.shape[1]} tokens '
          f'{ours*1e3:.1f} ms vs at {bb.text.context_length} {ref*1e3:.1f} ms: {ref/ours:.1f}x faster')
    return ours, ref

def image_space(bb:Backbone, bs:int, reps:int)->tuple:
    "Print a Biomed-DPT step as medprompt runs it vs reference-style (images/s, peak memory); return both steps' seconds."
    info = DATASETS['BTMRI']
    hp = {k: v for k,v in preset('biomed_dpt', 'BTMRI').items() if k in ('n_ctx', 'l1_weight', 'kl_weight')}
    m = BiomedDPT(bb, info.classnames, info.clinical_template, **hp).to(bb.device)
    opt = torch.optim.SGD([m.prompt.ctx], lr=1e-3)
    imgs = torch.randn(bs, 3, bb.image_size, bb.image_size, device=bb.device)
    y = torch.randint(len(info.classnames), (bs,), device=bb.device)
    amp = torch.autocast('cuda', dtype=torch.float16) if bb.device.type == 'cuda' else torch.autocast('cpu', enabled=False)
    def ours():
        opt.zero_grad()
        with amp: logits = m(imgs)
        m.loss(logits, y).backward(); opt.step()
    def reference():
        "The same step with the student prompts at the full context and in fp32; the teacher's features computed once, as in the reference."
        opt.zero_grad()
        img, cls = m.image_features(imgs), full_context_features(m.prompt, bb)
        m._img, m._cls = img, cls.float()   # what `m.loss` reads, as `m(imgs)` leaves it
        m.loss(clip_logits(img, cls, m.logit_scale), y).backward(); opt.step()
    mem = lambda v: 'n/a' if v is None else f'{v:.1f} MiB'
    ours_mem, ref_mem = peak_memory_mib(ours), peak_memory_mib(reference)   # the first step of each, also their warm-up
    t_ours, t_ref = fastest_pair(ours, reference, reps, warmup=0)
    print(f'measured: Biomed-DPT step, batch {bs}, {len(info.classnames)} classes ({"fp16 autocast" if bb.device.type == "cuda" else "fp32"}): '
          f'ours {bs/t_ours:.1f} images/s, peak {mem(ours_mem)}; reference-style (prompts at full context '
          f'{bb.text.context_length}, fp32) {bs/t_ref:.1f} images/s, peak {mem(ref_mem)}: {t_ref/t_ours:.1f}x the images/s', flush=True)
    return t_ours, t_ref

# ---- extrapolated: one run's phases and the few-shot grid

SHOTS, SEEDS = (1, 2, 4, 8, 16), (1, 2, 3)   # the few-shot grid of the benchmark tables
LEARNED_TEXT = {'coop', 'cocoop', 'kgcoop', 'prograd', 'biomedcoop', 'maple', 'biomed_dpt', 'cilmp'}   # their text tower runs every step
# image-tower passes per step of the references (BiomedCoOp's repository): BiomedCoOp runs its image tower and a frozen zero-shot
# copy; ProGrad (fp32, its preset) runs the whole prompted model a second time without gradients for its zero-shot logits
REFERENCE_TOWER_PASSES = {'biomedcoop': 2, 'prograd': 2}
PHASES = ('image tower on training images', 'prompt steps (text tower)', 'test images')

def n_test_images()->dict:
    "Test images per benchmark dataset from the shipped split files; OCTMNIST ships none: the mean of the others."
    n = {d: len(read_split(d)['test']) for d in BENCHMARKS if DATASETS[d].split_file}
    return {d: n.get(d, round(np.mean(list(n.values())))) for d in BENCHMARKS}

def recipe_of(method:str, dataset:str):
    "The method's few-shot reference recipe (epochs, batch size) on `dataset`, from the preset tables."
    cls = all_methods()[method]
    return cls.recipe.replace(**split_settings(cls, reference_settings(method, dataset, 'all'))[0])

def steps_of(n:int, epochs:int, bs:int)->int:
    "Training steps of a run: the last partial batch dropped (Dassl and medprompt alike), at least one batch per epoch."
    return epochs * (n // bs if n >= bs else 1)

def run_phases(method:str, dataset:str, k:int, n_test:int, u:dict)->tuple:
    "Seconds of one run by phase, (ours less the shared encodings, reference-style), from the measured units `u`."
    r, n, c = recipe_of(method, dataset), k * len(DATASETS[dataset].classnames), len(DATASETS[dataset].classnames)
    steps = steps_of(n, r.epochs, r.bs)
    text = c / u['classes'] * (method in LEARNED_TEXT)   # a prompt step's text tower runs over the C class prompts
    if all_methods()[method].uses_image_features:
        ref_views = r.epochs * n * REFERENCE_TOWER_PASSES.get(method, 1) if r.epochs else n * (method != 'zeroshot')
        return (dict(zip(PHASES, (0., steps * text * u['text_short'], 0.))),
                dict(zip(PHASES, (ref_views * u['image'], steps * text * u['text_full'], n_test * u['image']))))
    img = r.epochs * n * u['image_step']   # image-space prompts: the tower runs forward and backward on every image, both sides
    return (dict(zip(PHASES, (img, steps * text * u['text_short'], n_test * u['image']))),
            dict(zip(PHASES, (img, steps * text * u['text_full'], n_test * u['image']))))

def shared_encoding(methods:list, dataset:str, n_test:int, u:dict, seeds:int=len(SEEDS))->dict:
    "Seconds of what `share_features` encodes once for a grid of `methods` on `dataset`: each seed's largest draw with the most views any run needs, and its val; the test split once."
    need = {v for m in methods if (v := run_views(m, dataset)) is not None}
    if not need: return dict.fromkeys(PHASES, 0.)
    c = len(DATASETS[dataset].classnames)
    views = sum(max(v, 1) for v in {max(need)} | ({0} & need))
    per_seed = max(SHOTS) * c * views + min(max(SHOTS), 4) * c   # train views + val (min(K, 4) per class, un-augmented)
    return dict(zip(PHASES, (seeds * per_seed * u['image'], 0., n_test * u['image'])))

def add(a:dict, b:dict)->dict: return {k: a[k] + b[k] for k in a}

def grid_phases(methods:list, u:dict)->tuple:
    "Seconds by phase of the whole few-shot grid of `methods`: (ours, with the shared encodings, reference-style)."
    ours, ref, tests = dict.fromkeys(PHASES, 0.), dict.fromkeys(PHASES, 0.), n_test_images()
    for d in BENCHMARKS:
        ours = add(ours, shared_encoding(methods, d, tests[d], u))
        for m in methods:
            for k in SHOTS:
                o, r = run_phases(m, d, k, tests[d], u)
                ours, ref = add(ours, {p: len(SEEDS) * v for p,v in o.items()}), add(ref, {p: len(SEEDS) * v for p,v in r.items()})
    return ours, ref

def duration(s:float)->str:
    "Seconds as a short human duration."
    return f'{s:.1f} s' if s < 120 else f'{s/60:.1f} min' if s < 7200 else f'{s/3600:.1f} h'

def print_phases(title:str, ours:dict, ref:dict):
    "A table of the phases, ours vs reference-style, with totals and the ratio."
    print(title)
    for p in PHASES: print(f'  {p:<32} ours {duration(ours[p]):>10}   reference-style {duration(ref[p]):>10}')
    to, tr = sum(ours.values()), sum(ref.values())
    print(f'  {"total":<32} ours {duration(to):>10}   reference-style {duration(tr):>10}   {tr/to:.1f}x less time')

def one_run(u:dict, method='biomedcoop', dataset='BTMRI', k=16):
    "Print the phases of one benchmark run, ours (a first run: it encodes its own views) vs reference-style."
    n_test, r = n_test_images()[dataset], recipe_of(method, dataset)
    o, ref = run_phases(method, dataset, k, n_test, u)
    o = add(o, shared_encoding([method], dataset, n_test, u, seeds=1))
    n = k * len(DATASETS[dataset].classnames)
    print_phases(f'extrapolated: one run, {method} on {dataset}, {k} shots per class ({n} images), {r.epochs} epochs, batch {r.bs} '
                 f'({steps_of(n, r.epochs, r.bs)} steps), {n_test} test images; ours with a cold feature cache', o, ref)

def whole_grid(u:dict, method='biomedcoop'):
    "Print the few-shot grid's phases for one method and for every registered method, ours vs reference-style."
    runs = len(BENCHMARKS) * len(SHOTS) * len(SEEDS)
    head = f'{len(BENCHMARKS)} datasets x {len(SHOTS)} shot counts {SHOTS} x {len(SEEDS)} seeds'
    print_phases(f'extrapolated: the few-shot grid of {method}, {head} = {runs} runs', *grid_phases([method], u))
    methods = list(all_methods())
    print_phases(f'extrapolated: the few-shot grid of all {len(methods)} methods ({", ".join(methods)}), {runs * len(methods)} runs',
                 *grid_phases(methods, u))

ASSUMPTIONS = """assumptions of the extrapolation:
  - epochs and batch sizes: each method's few-shot preset (medprompt/assets/presets); steps per epoch: images // batch (the last
    partial batch dropped, as Dassl and medprompt do), at least 1;
  - images: K x classes training images per run; test images from the shipped split files (OCTMNIST ships none: the mean of the others);
  - reference-style: the image tower on every training image of every epoch (twice for BiomedCoOp and ProGrad, once for the
    others), the prompts at the full context every step, the test images encoded in every run; LP, LP++ and Tip-Adapter encode
    their training images once per run, zero-shot none;
  - ours: a grid run by `medprompt run` per dataset, with what `share_features` encodes once per dataset and seed (the 16-shot
    draw with one augmented view per epoch of the longest recipe, plus the plain view where a method needs it, and val) and the
    test split once per dataset, every feature-path run reading them; image-space runs encode their own images every step and test;
  - image-space methods (VPT, MaPLe, Biomed-DPT, CILMP) cost the measured Biomed-DPT image cost per training image, both sides;
  - a prompt step's text cost grows linearly with the classes from the measured 4; not counted, on either side: decoding and
    augmenting images, start-up, LP's and Tip-Adapter's searches, text encoded once per run, ProGrad's second backward pass"""

def units(bb:Backbone, a)->dict:
    "Measure the per-unit costs the extrapolation multiplies: image forward, prompt steps short and full, the image-space step."
    classes = list(DATASETS['BTMRI'].classnames)
    text_tower(bb, classes, a.reps)
    image = image_forward(bb, a.bs, a.reps)
    text_short, text_full = prompt_steps(bb, classes, a.bs, a.reps)
    t_ours, t_ref = image_space(bb, a.image_bs, a.reps)
    image_step = max(t_ours - text_short, 0.) / a.image_bs
    print(f'  model check: a reference-style Biomed-DPT step from the units ({a.image_bs} x the image cost + the full-context prompt step) '
          f'{(a.image_bs * image_step + text_full)*1e3:.0f} ms, measured {t_ref*1e3:.0f} ms')
    return dict(image=image, text_short=text_short, text_full=text_full, image_step=image_step, classes=len(classes))

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--bs', type=int, default=None, help='batch of the image forward and the prompt steps (default 4; 32 with --long)')
    p.add_argument('--reps', type=int, default=None, help='timed repetitions of each step, after a warm-up; the fastest counts (default 2; 10 with --long)')
    p.add_argument('--image-bs', type=int, default=BiomedDPT.recipe.bs, help='batch of the image-space (Biomed-DPT) steps')
    p.add_argument('--biomedclip-sized', action='store_true', help="BiomedCLIP's architecture with random weights instead of --backbone")
    p.add_argument('--long', action='store_true', help="the long run: 10 repetitions, batch 32 (steadier numbers, roughly 4x the default's time)")
    a = p.parse_args()
    a.bs, a.reps = a.bs or (32 if a.long else 4), a.reps or (10 if a.long else 2)
    start = time.perf_counter()
    bb = biomedclip_sized(a.device) if a.biomedclip_sized else load_backbone(a.backbone, device=a.device)
    hf = getattr(bb.tokenizer, 'tokenizer', None)   # open_clip's wrapper of a Hugging Face tokenizer
    vocab = ('a whole-word vocabulary of the shipped descriptions and templates' if a.biomedclip_sized else 'its own vocabulary') + \
            (f', {len(hf)} pieces' if hf is not None else '')
    texts = [s for descs in llm_prompt_bank('BTMRI').values() for s in descs]
    print(f'backbone {bb.id} on {bb.device}, {torch.get_num_threads()} threads; {vocab}: BTMRI\'s {len(texts)} descriptions are '
          f'{mean_tokens(bb, texts):.1f} tokens long on average (PubMedBERT: ~18)', flush=True)
    u = units(bb, a)
    one_run(u)
    whole_grid(u)
    print(ASSUMPTIONS)
    print(f'measured units: the fastest of {a.reps} repetitions after a warm-up, the two sides of a comparison alternating; '
          f'the whole benchmark took {duration(time.perf_counter() - start)}')

if __name__ == '__main__': main()
