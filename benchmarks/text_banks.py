"""Description banks: batches in the bank's order vs sorted by length (`Backbone.encode_texts`), and a cold vs a warm
text cache (`encode_texts(cache=True)`, what BiomedCoOp, Biomed-DPT and zero-shot's LLM ensemble use).

The bank is BiomedCoOp's shipped descriptions of the 11 benchmarks' classes (50 per class). The same features
either way (checked); the ratios are what sorting and the cache buy.

    python benchmarks/text_banks.py                      # tiny backbone, CPU
    python benchmarks/text_banks.py --biomedclip-sized   # BiomedCLIP's architecture, random weights, a realistic vocabulary

Ratios, not absolute times, are the result.
"""
import argparse, os, tempfile, time
import torch, torch.nn.functional as F
from medprompt.backbones import load_backbone
from medprompt.core import assert_close_rel
from medprompt.data import DATASETS, BENCHMARKS
from medprompt.methods.biomedcoop import read_prompt_bank
from speed import biomedclip_sized, fastest_pair

def bank(n_datasets:int)->list[str]:
    "Every description of the first `n_datasets` benchmarks' classes, class by class as a method reads them."
    return [s for d in BENCHMARKS[:n_datasets] for ds in read_prompt_bank(list(DATASETS[d].classnames)) for s in ds]

@torch.no_grad()
def in_given_order(bb, texts:list[str], bs:int=256)->torch.Tensor:
    "The bank encoded in consecutive batches of its own order (each padded to its longest text), as before sorting."
    feats = torch.cat([bb.encode_text(bb.tokenize(texts[i:i+bs])) for i in range(0, len(texts), bs)]).float()
    return F.normalize(feats, dim=-1)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backbone', default='tiny'); p.add_argument('--device', default='cpu')
    p.add_argument('--datasets', type=int, default=11, help='how many benchmarks the bank covers')
    p.add_argument('--reps', type=int, default=2)
    p.add_argument('--biomedclip-sized', action='store_true', help="BiomedCLIP's architecture with random weights")
    a = p.parse_args()
    bb = biomedclip_sized(a.device) if a.biomedclip_sized else load_backbone(a.backbone, device=a.device)
    texts = bank(a.datasets)
    lengths = (bb.tokenizer(texts) != bb.text.pad_id).sum(-1).float()
    print(f'backbone {bb.id} on {a.device}, {torch.get_num_threads()} threads; bank: {len(texts)} descriptions of '
          f'{a.datasets} benchmarks, {lengths.mean():.1f} tokens on average (shortest {lengths.min():.0f}, '
          f'longest {lengths.max():.0f})')
    assert_close_rel(bb.encode_texts(texts), in_given_order(bb, texts), msg='sorted vs given order')
    given, ours = fastest_pair(lambda: in_given_order(bb, texts), lambda: bb.encode_texts(texts), a.reps)
    print(f'measured: batches of 256 in the bank\'s order {given:.2f} s vs sorted by length {ours:.2f} s: '
          f'sorted {given/ours:.2f}x as fast, the same features')
    with tempfile.TemporaryDirectory() as d:
        os.environ['MEDPROMPT_CACHE'] = d
        t = time.perf_counter(); cold = bb.encode_texts(texts, cache=True); cold_s = time.perf_counter() - t
        t = time.perf_counter(); warm = bb.encode_texts(texts, cache=True); warm_s = time.perf_counter() - t
        assert torch.equal(cold, warm)
    print(f'measured: text cache cold (encode and write) {cold_s:.2f} s vs warm (read) {warm_s:.3f} s: '
          f'warm {cold_s/warm_s:.0f}x as fast, for every later run and every load_method, bit-identical features')

if __name__ == '__main__': main()
