"`medprompt describe`: N LLM descriptions per class, resumable and seeded, and the bank training BiomedCoOp, Biomed-DPT (and CILMP) on a user folder."
import json, os, signal, subprocess, sys
import pandas as pd
import pytest
from PIL import Image

from medprompt.cli import main
from medprompt.describe import describe_classes, read_description_bank
from medprompt.llm_reps import save_tiny_causal_lm

CLASSES = ['glioma tumor', 'meningioma tumor', 'no tumor']
TINY = dict(max_new_tokens=16, max_rounds=10)   # the tiny random LLM's gibberish: short answers, a few more rounds

@pytest.fixture(scope='module')
def lm_dir(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp('llm')/'tiny-lm')

def user_folder(root):
    for i,c in enumerate(('glioma_tumor', 'meningioma_tumor', 'no_tumor')):
        (root/c).mkdir(parents=True)
        for j in range(8): Image.new('RGB', (32, 32), (70*i, 25*j, 90)).save(root/c/f'{j}.png')
    return root

def test_tiny_llm_writes_n_per_class_and_same_seed_same_bank(tmp_path, lm_dir):
    a = describe_classes(lm_dir, CLASSES, tmp_path/'a.json', 'MRI', 'brain', n=4, bs=2, seed=3, echo=None, **TINY)
    assert {c: len(d) for c,d in a['classes'].items()} == {c: 4 for c in CLASSES} and a['pending'] == {}
    assert all(len(set(d)) == 4 and all(s.strip() for s in d) for d in a['classes'].values())
    assert a['meta']['model'] == str(lm_dir) and 'of {classname} found in {modality} in the {organ}' in a['meta']['query']
    b = describe_classes(lm_dir, CLASSES, tmp_path/'b.json', 'MRI', 'brain', n=4, bs=2, seed=3, echo=None, **TINY)
    assert read_description_bank(tmp_path/'b.json')['classes'] == a['classes']
    c = describe_classes(lm_dir, CLASSES, tmp_path/'c.json', 'MRI', 'brain', n=4, bs=2, seed=4, echo=None, **TINY)
    assert c['classes'] != a['classes']

def test_malformed_answers_are_asked_again(tmp_path):
    "Empty answers, preambles, fragments and repeats count for nothing; the class is asked until it has N."
    answers = iter(['', 'Here you go:\n1.\n2. ok', '1. A bright rim around a dark core.\n2. a bright rim around a dark core',
                    '- **Mass effect** on the ventricles.\n- Perilesional oedema is seen.'])
    bank = describe_classes('planted', ['glioma tumor'], tmp_path/'m.json', 'MRI', 'brain', n=3, generate=lambda qs: [next(answers)], echo=None)
    assert bank['classes']['glioma tumor'] == ['A bright rim around a dark core.', 'Mass effect on the ventricles.', 'Perilesional oedema is seen.']
    assert len(bank['answers']['glioma tumor']) == 4

KILLED = """
import os, signal, sys
from medprompt.describe import describe_classes
calls = []
def generate(qs):
    calls.append(qs)
    if len(calls) == 2: os.kill(os.getpid(), signal.SIGKILL)   # killed while the second batch is asked
    return [f'1. First sign of class {len(calls)}.\\n2. Second sign of class {len(calls)}.' for q in qs]
describe_classes('planted', ['a', 'b', 'c'], sys.argv[1], 'MRI', 'brain', n=2, bs=1, generate=generate, echo=None)
"""

def test_resumable_after_a_kill(tmp_path):
    out = tmp_path/'bank.json'
    p = subprocess.run([sys.executable, '-c', KILLED, str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert list(read_description_bank(out)['classes']) == ['a'] and [f.name for f in tmp_path.iterdir()] == ['bank.json']
    asked = []
    bank = describe_classes('planted', ['a', 'b', 'c'], out, 'MRI', 'brain', n=2, bs=1, echo=None,
                            generate=lambda qs: asked.extend(qs) or [f'1. One about {q[-22:]}\n2. Two about {q[-22:]}' for q in qs])
    assert list(bank['classes']) == ['a', 'b', 'c'] and len(asked) == 2 and all(' b ' in q or ' c ' in q for q in asked)

def test_bank_trains_biomedcoop_and_biomed_dpt_on_a_user_folder_from_the_cli(tmp_path, lm_dir, capsys):
    data = user_folder(tmp_path/'brain')
    bank, reps = tmp_path/'brain-bank.json', tmp_path/'brain-reps.pt'
    rc = main(['describe', '--model', str(lm_dir), '--classes', str(data), '--modality', 'MRI', '--organ', 'brain', '--n', '3',
               '--max-new-tokens', '16', '--max-rounds', '10', '--out', str(bank), '--reps-out', str(reps)])
    assert rc == 0, capsys.readouterr().err
    assert sorted(json.loads(bank.read_text())['classes']) == CLASSES
    common = ['--dataset', str(data), '--shots', '2', '--epochs', '1', '--backbone', 'tiny']
    runs = (['biomedcoop', f'prompt_bank={bank}'], ['biomed_dpt', f'prompt_bank={bank}', 'template=a MR photo of a {} in the brain.'],
            ['cilmp', f'reps={reps}'])
    for method, *sets in runs:
        out = tmp_path/method
        rc = main(['run', '--methods', method, *common, '--out', str(out), *[a for s in sets for a in ('--set', s)]])
        assert rc == 0, capsys.readouterr().err
        row = pd.read_csv(out/'results.csv').iloc[0]
        assert row['method'] == method and 0 <= row['test_acc'] <= 100
    assert 'template=a MR photo of a {} in the brain.' in pd.read_csv(tmp_path/'biomed_dpt'/'results.csv')['overrides'][0]
