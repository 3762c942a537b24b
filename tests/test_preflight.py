"Pre-flight: a grid checks every method's inputs on its dataset (descriptions, LLM representations, templates) before its first run."
import time
import pytest
from PIL import Image

from medprompt.cli import main

def user_folder(root):
    "A user's folder of three tumour classes; 'no tumor' is in no shipped description bank."
    for i,c in enumerate(('glioma_tumor', 'meningioma_tumor', 'no_tumor')):
        (root/c).mkdir(parents=True)
        for j in range(6): Image.new('RGB', (32, 32), (60*i, 30*j, 90)).save(root/c/f'{j}.png')
    return root

@pytest.fixture
def no_backbone(monkeypatch):
    "Loading any backbone fails the test: the check must come first."
    import medprompt.experiment as ex
    monkeypatch.setattr(ex, 'load_backbone', lambda *a, **k: pytest.fail('a backbone was loaded before the pre-flight check'))

def test_grid_whose_third_run_lacks_descriptions_fails_at_once(tmp_path, capsys, no_backbone):
    "coop, coop, then biomedcoop: one line naming the class and the command, in under 5 s (imports done), nothing written."
    from medprompt.train import all_methods; all_methods()   # the imports any command pays; the check itself is timed
    data, out = user_folder(tmp_path/'brain'), tmp_path/'out'
    start = time.perf_counter()
    rc = main(['run', '--methods', 'coop,biomedcoop', '--dataset', str(data), '--shots', '2', '--seeds', '1,2', '--out', str(out)])
    took = time.perf_counter() - start
    err = capsys.readouterr().err
    assert rc == 2 and took < 5, (rc, took, err)
    assert err.startswith('medprompt: error: Nothing was run: 1 input missing.') and err.count('\n') == 1, err
    assert "biomedcoop has no LLM descriptions of ['no tumor']" in err, err
    assert f'`medprompt describe --model meta-llama/Meta-Llama-3-8B-Instruct --classes {data} --modality <modality> --organ <organ> --out brain-descriptions.json`' in err, err
    assert '--set prompt_bank=brain-descriptions.json' in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ['brain']

def test_every_missing_input_in_one_error(tmp_path, capsys, no_backbone):
    "Descriptions for two methods and CILMP's representations: all three items in the one line."
    data = user_folder(tmp_path/'brain')
    rc = main(['run', '--methods', 'biomedcoop,biomed_dpt,cilmp,coop', '--dataset', str(data), '--shots', '2', '--out', str(tmp_path/'o')])
    err = capsys.readouterr().err
    assert rc == 2 and err.count('\n') == 1 and 'Nothing was run: 3 inputs missing.' in err, err
    assert "biomed_dpt has no LLM descriptions of ['no tumor']" in err and 'medprompt describe' in err
    assert "cilmp has no LLM representations of ['glioma tumor', 'meningioma tumor', 'no tumor']" in err and 'medprompt llm-reps' in err

def test_a_bank_missing_a_class_names_its_file(tmp_path, no_backbone):
    "With a bank that lacks a class, the command completes that very file; `run_experiment` checks too."
    import json
    from medprompt.experiment import run_experiment
    data = user_folder(tmp_path/'brain')
    bank = tmp_path/'bank.json'
    bank.write_text(json.dumps({'glioma tumor': ['a b c'], 'meningioma tumor': ['d e f']}))
    with pytest.raises(ValueError, match=f"no LLM descriptions of \\['no tumor'\\].*--out {bank}`"):
        run_experiment('biomedcoop', str(data), shots=2, settings={'prompt_bank': str(bank)})

def test_registered_benchmark_classes_need_nothing():
    "BTMRI's classes are in the shipped banks; the demo brings CILMP's tiny representations."
    from medprompt.experiment import preflight
    from medprompt.data import DATASETS, DatasetInfo
    from medprompt.train import all_methods
    info = DATASETS['BTMRI']
    assert all_methods()['biomedcoop'].requirements(info, {}) == []
    assert all_methods()['biomed_dpt'].requirements(info, {'template': info.clinical_template}) == []
    built = preflight(['coop', 'biomedcoop', 'biomed_dpt', 'cilmp'], 'demo')
    assert built['biomed_dpt']['template'] == DATASETS['demo'].clinical_template and built['cilmp']['reps']
