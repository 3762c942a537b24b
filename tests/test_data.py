"Cross-cutting tests of medprompt.data: packaged assets, the demo dataset, cache keys across processes, error messages."
import gzip, json, os, subprocess, sys, zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medprompt.data import (ASSETS, BENCHMARKS, DATASETS, ImageLoadError, fewshot_dataset, few_shot, llm_prompt_bank,
                            load_dataset, load_image, read_split, templates)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent/'shared'/'data'/'biomedcoop'

def _run(code:str, cwd:Path, **env)->str:
    "Run `code` in a fresh Python process started in `cwd` (with extra environment `env`); its stdout."
    env = {**os.environ, **env}
    return subprocess.run([sys.executable, '-c', code], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout

def test_wheel_ships_assets(tmp_path):
    "A built wheel holds the split files, prompt bank, templates, NOTICE and the demo dataset."
    src = tmp_path/'src'
    src.mkdir()
    (src/'pyproject.toml').write_bytes((REPO/'pyproject.toml').read_bytes())
    (src/'README.md').write_text('medprompt\n')   # pyproject names a README; its content is irrelevant here
    import shutil; shutil.copytree(REPO/'medprompt', src/'medprompt', ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path/'dist'), str(src)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next((tmp_path/'dist').glob('*.whl'))).namelist()
    want = {f'medprompt/assets/{p.relative_to(ASSETS).as_posix()}' for p in ASSETS.rglob('*') if p.is_file()}
    assert {'medprompt/assets/biomedcoop/NOTICE.md', 'medprompt/assets/biomedcoop/llm_prompts.json.gz',
            'medprompt/assets/biomedcoop/templates.json', 'medprompt/assets/demo/descriptions.json'} <= want
    assert len([n for n in want if n.endswith('.png')]) == 192
    assert want <= set(names), sorted(want - set(names))[:5]

def test_assets_small_and_attributed():
    "The demo stays under 3 MB, everything under 4 MB, and the BiomedCoOp data keep their MIT attribution."
    size = lambda d: sum(p.stat().st_size for p in d.rglob('*') if p.is_file())
    assert size(ASSETS/'demo') < 3*2**20
    assert size(ASSETS) < 4*2**20
    notice = (ASSETS/'biomedcoop'/'NOTICE.md').read_text()
    assert 'HealthX-Lab/BiomedCoOp' in notice and 'MIT' in notice

def test_demo_images_mixed_modes_all_load():
    "The demo exercises grayscale, RGB, RGBA and 16-bit PNGs; every one loads as RGB."
    paths = sorted((ASSETS/'demo').rglob('*.png'))
    assert {Image.open(p).mode for p in paths} >= {'L', 'RGB', 'RGBA', 'I;16'}
    assert all(load_image(p).mode == 'RGB' for p in paths[::5])

def test_demo_generator_reproduces_packaged_demo(tmp_path):
    "tools/make_demo_data.py regenerates the packaged demo pixel for pixel (it is deterministic and the copy is current)."
    subprocess.run([sys.executable, str(REPO/'tools'/'make_demo_data.py'), '--out', str(tmp_path/'demo')], check=True, capture_output=True)
    new, old = sorted((tmp_path/'demo').rglob('*.png')), sorted((ASSETS/'demo').rglob('*.png'))
    assert [p.relative_to(tmp_path/'demo') for p in new] == [p.relative_to(ASSETS/'demo') for p in old]
    for a, b in zip(new, old): assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name
    assert json.loads((tmp_path/'demo'/'descriptions.json').read_text()) == json.loads((ASSETS/'demo'/'descriptions.json').read_text())

@pytest.mark.skipif(not SHARED.is_dir(), reason='original BiomedCoOp data not on this machine')
def test_packaged_data_equal_originals():
    "The packaged (gzipped) split files and prompt bank hold exactly the original JSON."
    for name in BENCHMARKS:
        if DATASETS[name].split_file is None: continue
        raw = json.loads((SHARED/'splits'/f'split_{name}.json').read_text())
        assert read_split(name) == {k: [tuple(o) for o in v] for k,v in raw.items()}
    assert json.loads(gzip.decompress((ASSETS/'biomedcoop'/'llm_prompts.json.gz').read_bytes())) == json.loads((SHARED/'llm_prompts.json').read_text())
    assert json.loads((ASSETS/'biomedcoop'/'templates.json').read_text()) == json.loads((SHARED/'templates.json').read_text())

def test_registry_prompts_and_templates():
    "All 11 benchmarks are registered, and every class of every benchmark and of the demo has LLM descriptions (CILMP's datasets come without)."
    assert len(BENCHMARKS) == 11 and 'demo' in DATASETS
    for n in BENCHMARKS + ['demo']: assert list(llm_prompt_bank(n)) == list(DATASETS[n].classnames)
    assert all('{}' in t for t in templates('imagenet'))

_FRESH = """
import json
from medprompt.data import load_dataset, fewshot_dataset, feature_cache_path
from medprompt.backbones import load_backbone
d = load_dataset('demo')
print(json.dumps(dict(classnames=d.classnames, counts=[d.counts(s) for s in ('train', 'val', 'test')],
                      shots=[p.name for p,_ in fewshot_dataset(d, 4, seed=2).train],
                      cache=feature_cache_path(load_backbone('tiny'), d, 'train', 4)[0].name)))
"""

def test_fresh_processes_agree(tmp_path):
    "The demo loads with no root from any directory; its few-shot draw and feature-cache file name are the same in every process."
    a = json.loads(_run(_FRESH, tmp_path))
    b = json.loads(_run(_FRESH, REPO, PYTHONHASHSEED='123'))
    assert a == b
    assert a['classnames'] == ['tissue with round nodules', 'tissue with elongated fibres', 'tissue with scattered small cells', 'empty tissue']
    assert a['counts'] == [[29]*4, [10]*4, [9]*4]
    assert len(a['shots']) == 16

def test_error_messages(tmp_path):
    "Bad input fails with a message that names the problem and the file or class."
    demo = load_dataset('demo')
    with pytest.raises(ValueError, match=r"class 'tissue with round nodules' \(label 0\) has only 9 images"): few_shot(demo.test, 10, classnames=demo.classnames)
    with pytest.raises(FileNotFoundError, match='neither a registered dataset'): load_dataset(tmp_path/'nothing')
    with pytest.raises(FileNotFoundError, match='Data root'): load_dataset('Kvasir', root=tmp_path/'nothing')
    (tmp_path/'x.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    with pytest.raises(ImageLoadError, match='x.png'): load_image(tmp_path/'x.png')
    (tmp_path/'labels.csv').write_text('path,label\nx.png,cat\n')
    with pytest.raises(ValueError, match=r"Labels \['cat'\]"): load_dataset(tmp_path/'labels.csv', classnames=['dog'])
