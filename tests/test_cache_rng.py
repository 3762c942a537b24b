"Filling a cache never draws from the caller's random streams: a seeded run is the same with a cold or a warm cache."
import random
import numpy as np, torch
from medprompt.backbones import load_backbone
from medprompt.data import load_dataset, fewshot_dataset, cached_features
from medprompt.llm_reps import tiny_llm_reps

def _streams()->tuple:
    "The next numbers of Python's, NumPy's and torch's global generators (drawing them moves the streams)."
    return random.random(), np.random.rand(), torch.rand(3)

def _after(fill, seed=3)->tuple:
    "The caller's next numbers after seeding and then running `fill`."
    random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
    fill()
    return _streams()

def test_every_cache_writer_leaves_the_callers_streams_alone(tmp_path, monkeypatch):
    "Each writer runs on an empty cache (tiny backbones, tiny LLM and its representations, image features)."
    monkeypatch.setenv('MEDPROMPT_CACHE', str(tmp_path))
    untouched = _after(lambda: None)
    ds = fewshot_dataset(load_dataset('demo'), 1, seed=1)
    writers = {'tiny backbone': lambda: load_backbone('tiny'), 'tiny CLIP backbone': lambda: load_backbone('tiny-clip'),
               'tiny LLM representations': lambda: tiny_llm_reps(ds.classnames),
               'augmented image features': lambda: cached_features(load_backbone('tiny'), ds, 'train', views=2, progress=False),
               'description bank features': lambda: load_backbone('tiny').encode_texts(['a bank', 'of texts'], cache=True)}
    for name, fill in writers.items():
        got = _after(fill)
        assert got[:2] == untouched[:2] and torch.equal(got[2], untouched[2]), f'filling the {name} cache moved the random streams'
