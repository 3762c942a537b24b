"""Speed ratios behind medprompt's design choices (DESIGN.md, "Speed, by construction").

Prints, for one backbone:
1. text tower: prompts padded to the longest prompt vs to the full context length (256 for BiomedCLIP);
2. a CoOp training step on cached image features vs on images (the image tower runs every step);
3. BiomedCoOp's teacher features encoded once vs per step (the 50 descriptions x classes of the prompt bank);
4. the image-space path: a Biomed-DPT training step (zero tokens in the image tower, gradients through it to
   the context) as medprompt runs it vs a reference-style step (student prompts at the text tower's full
   context, 256 tokens for BiomedCLIP), and vs one that also re-encodes the teacher's descriptions every step;
   images/s and peak memory.

    python benchmarks/speed.py                       # tiny backbone, CPU
    python benchmarks/speed.py --biomedclip-sized    # BiomedCLIP's architecture with random weights (no download)
    python benchmarks/speed.py --backbone biomedclip --device cuda

Ratios, not absolute times, are the result: they are what the design promises.
"""
import argparse, ctypes, tempfile, threading, time
from pathlib import Path
import open_clip, torch, torch.nn.functional as F
from transformers import BertConfig
from medprompt.backbones import Backbone, load_backbone, _tiny_config, _write_tiny_tokenizer, _resolve_text_cfg, _quiet_logs, TINY_TEXT_NAME
from medprompt.core import save_json_atomic
from medprompt.data import load_dataset, llm_prompt_bank, DATASETS
from medprompt.methods.coop import CoOp
from medprompt.methods.biomed_dpt import BiomedDPT, l1_feature_loss
from medprompt.methods.biomedcoop import kdsp_loss
from medprompt.methods.zeroshot import class_descriptions
from medprompt.presets import preset
from medprompt.train import clip_logits

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

def biomedclip_sized(device='cpu')->Backbone:
    "BiomedCLIP's architecture (ViT-B/16 timm trunk, BERT-base text tower at context 256, MLP projection) with random weights."
    with tempfile.TemporaryDirectory(prefix='biomedclip-sized-') as d: return _random_backbone(Path(d), device)

def _random_backbone(folder:Path, device)->Backbone:
    "Write the BiomedCLIP-sized config and tokenizer into `folder` and build the model from them, with random weights."
    cfg = _tiny_config('hf')
    cfg['model_cfg']['embed_dim'] = 512
    cfg['model_cfg']['vision_cfg']['timm_model_name'] = 'vit_base_patch16_224'
    save_json_atomic(cfg, folder/'open_clip_config.json')
    _write_tiny_tokenizer(folder)                       # the tiny WordPiece vocabulary; the model below is BERT-base
    BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
               max_position_embeddings=512, pad_token_id=0).save_pretrained(folder/TINY_TEXT_NAME.split('/')[-1])
    text_cfg = _resolve_text_cfg(cfg['model_cfg']['text_cfg'], folder)
    with _quiet_logs():
        model, pre_train, pre_eval = open_clip.create_model_and_transforms(f'local-dir:{folder}', load_weights=False,
                                                                            pretrained_text=False, text_cfg=text_cfg, device=device)
    return Backbone(model, open_clip.get_tokenizer(f'local-dir:{folder}'), pre_train, pre_eval, id='biomedclip-sized-random')

def full_context_features(prompt, bb:Backbone)->torch.Tensor:
    "The learned prompts' text features with every prompt padded to the tower's full context, as the reference runs them."
    emb, ids = prompt.prompt_embeds(), prompt.token_ids
    ids_full = F.pad(ids, (0, bb.text.context_length - ids.shape[1]), value=bb.text.pad_id)
    pad = bb.token_embedding(ids_full[:, ids.shape[1]:]).to(emb.dtype)
    return bb.encode_text_embeds(torch.cat([emb, pad], 1), ids_full)

def image_space(bb:Backbone, bs:int, reps:int):
    "Print a Biomed-DPT step as medprompt runs it vs reference-style steps: images/s and peak memory."
    info = DATASETS['BTMRI']
    hp = {k: v for k,v in preset('biomed_dpt', 'BTMRI').items() if k in ('n_ctx', 'l1_weight', 'kl_weight')}
    m = BiomedDPT(bb, info.classnames, info.clinical_template, **hp).to(bb.device)
    opt = torch.optim.SGD([m.prompt.ctx], lr=1e-3)
    imgs = torch.randn(bs, 3, bb.image_size, bb.image_size, device=bb.device)
    y = torch.randint(len(info.classnames), (bs,), device=bb.device)
    descs = [d[:50] for d in class_descriptions(info.classnames, True)]
    desc_ids = bb.tokenizer([s for d in descs for s in d]).to(bb.device)    # full context, as the reference tokenises
    amp = torch.autocast('cuda', dtype=torch.float16) if bb.device.type == 'cuda' else torch.autocast('cpu', enabled=False)

    def ours():
        opt.zero_grad()
        with amp: logits = m(imgs)
        m.loss(logits, y).backward(); opt.step()
    def reference(reencode_teacher:bool):
        def step():
            opt.zero_grad()
            img = m.image_features(imgs)
            cls = full_context_features(m.prompt, bb)
            if reencode_teacher:
                with torch.no_grad():
                    t = F.normalize(bb.encode_text(desc_ids).float(), dim=-1).view(len(descs), len(descs[0]), -1)
                    teacher = F.normalize(t.mean(1), dim=-1)
            else: teacher = m.teacher
            logits = clip_logits(img, cls, m.logit_scale)
            loss = F.cross_entropy(logits, y) + m.l1_weight * l1_feature_loss(cls, teacher) \
                   + m.kl_weight * kdsp_loss(logits, clip_logits(img.detach(), teacher, m.logit_scale))
            loss.backward(); opt.step()
        return step

    def measure(fn):
        "Images/s of a step (median of `reps` after one warm-up) and the peak memory over those steps."
        t = []
        peak = peak_memory_mib(lambda: t.append(timeit(fn, reps, warmup=1)))
        return bs / t[0], peak
    mem = lambda v: 'n/a' if v is None else f'{v:.1f} MiB'
    (ours_ips, ours_mem), (ref_ips, ref_mem) = measure(ours), measure(reference(False))
    print(f'Biomed-DPT step, batch {bs}, {len(info.classnames)} classes ({"fp16 autocast" if bb.device.type == "cuda" else "fp32"}): '
          f'ours {ours_ips:.1f} images/s, peak {mem(ours_mem)}; reference-style (prompts at full context '
          f'{bb.text.context_length}, fp32) {ref_ips:.1f} images/s, peak {mem(ref_mem)}: {ours_ips/ref_ips:.1f}x the images/s', flush=True)
    naive_ips, naive_mem = measure(reference(True))
    print(f'  ... against a step that also re-encodes the teacher\'s {desc_ids.shape[0]} descriptions at full context: '
          f'{naive_ips:.2f} images/s, peak {mem(naive_mem)}: {ours_ips/naive_ips:.1f}x the images/s')

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--bs', type=int, default=32); p.add_argument('--reps', type=int, default=10)
    p.add_argument('--image-bs', type=int, default=BiomedDPT.recipe.bs, help='batch of the image-space (Biomed-DPT) steps')
    p.add_argument('--biomedclip-sized', action='store_true', help="BiomedCLIP's architecture with random weights instead of --backbone")
    a = p.parse_args()
    bb = biomedclip_sized(a.device) if a.biomedclip_sized else load_backbone(a.backbone, device=a.device)
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

    image_space(bb, a.image_bs, a.reps)

if __name__ == '__main__': main()
