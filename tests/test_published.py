"The papers' numbers shipped as data, `medprompt compare` on demo results, `medprompt data check` on a data root."
import subprocess, sys
from pathlib import Path
import pandas as pd

from medprompt.data import BENCHMARKS, read_split
from medprompt.published import published, compare, check_data
from medprompt.experiment import base_to_novel_table, run_base_to_novel, write_base_to_novel

EXE = Path(sys.executable).parent/'medprompt'

def _run(*args):
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=900)

def test_every_number_has_a_setting_and_a_source():
    df = published(variants=True)
    assert df['value'].between(0, 100).all() and (df['backbone'] == 'biomedclip').all()
    assert df['source'].str.contains('README|Table').all()
    assert set(df['protocol']) == {'few_shot', 'base_to_novel'} and set(df.loc[df['protocol'] == 'few_shot', 'metric']) == {'acc'}
    assert not df.duplicated(['paper', 'method', 'variant', 'protocol', 'dataset', 'shots', 'metric']).any()
    dpt = published('few_shot', 'Biomed-DPT').set_index(['method', 'shots'])['value']
    assert dpt[('biomed_dpt', 16)] == 73.51 and dpt[('coop', 1)] == 50.18           # README of the Biomed-DPT code
    bc = published('base_to_novel', 'BiomedCoOp').set_index(['method', 'metric'])['value']
    assert bc[('biomedcoop', 'hm')] == 75.07 and bc[('zeroshot', 'novel')] == 65.42  # README of BiomedCoOp

def test_compare_matches_only_the_published_setting():
    rows = [dict(dataset=d, subset='all', backbone='biomedclip', shots=16, method='biomedcoop', overrides='', mean=70., std=0., seeds=3) for d in BENCHMARKS]
    rows.append(dict(dataset='BTMRI', subset='all', backbone='biomedclip', shots=16, method='coop', overrides='lr=0.1', mean=1., std=0., seeds=3))
    c = compare(pd.DataFrame(rows)).set_index(['method', 'dataset'])
    assert c.loc[('biomedcoop', 'Average'), 'ours - BiomedCoOp'] == round(70 - 72.42, 2)
    assert c.loc[('biomedcoop', 'Average'), 'Biomed-DPT'] == 72.13 and c.loc[('biomedcoop', 'Average'), 'setting'] == ''
    assert c.loc[('coop', 'BTMRI'), 'setting'] == 'overrides lr=0.1' and pd.isna(c.loc[('coop', 'BTMRI'), 'BiomedCoOp'])

def test_compare_command_on_demo_results(tmp_path):
    r = _run('run', '--methods', 'zeroshot,coop', '--shots', '1,2', '--epochs', '2', '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    r = _run('compare', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert '0 of 4 settings match a published one' in r.stdout and 'backbone tiny; dataset demo is not a benchmark' in r.stdout, r.stdout
    assert len(pd.read_csv(tmp_path/'compare.csv')) == 4 and (tmp_path/'compare.png').stat().st_size > 0
    r = _run('compare', str(tmp_path/'nothing'))
    assert r.returncode == 2 and r.stderr.startswith('medprompt: error:') and r.stderr.count('\n') == 1, r.stderr

def _b2n(method, dataset, base, novel, shots=16, overrides=''):
    "A planted `run_base_to_novel` row on BiomedCLIP."
    return dict(method=method, backbone='biomedclip', shots=shots, overrides=overrides, dataset=dataset, seed=1, base_acc=base, novel_acc=novel)

def test_compare_base_to_novel_matches_only_the_published_setting():
    rows = [_b2n('biomedcoop', d, 80., 70.) for d in BENCHMARKS] + [_b2n('biomedcoop', d, 1., 1., shots=4) for d in BENCHMARKS]
    c = compare(base_to_novel_table(rows), 'BiomedCoOp').set_index(['shots', 'dataset', 'metric']).sort_index()
    assert 'Biomed-DPT' not in c and c.loc[(16, 'Average', 'novel'), 'ours - BiomedCoOp'] == round(70 - 73.92, 2)
    assert c.loc[(16, 'Average', 'hm'), 'BiomedCoOp'] == 75.07 and c.loc[(16, 'Average', 'hm'), 'ours'] == round(2*80*70/150, 2)
    assert (c.loc[4, 'setting'] == 'not reported by the papers').all() and c.loc[4, 'BiomedCoOp'].isna().all()   # K = 4
    dpt = compare(base_to_novel_table(rows[:11] + [_b2n('biomedcoop', 'demo', 50., 50.)]), 'Biomed-DPT').set_index(['dataset', 'metric'])
    assert dpt.loc[('Average', 'base'), 'setting'] == 'average of 12 datasets, not of the 11 benchmarks'   # the demo is in it
    assert dpt.loc[('KneeXray', 'hm'), 'Biomed-DPT'] == 57.64 and pd.isna(dpt.loc[('KneeXray', 'novel'), 'Biomed-DPT'])

def test_compare_command_on_base_to_novel_results(tmp_path):
    write_base_to_novel([run_base_to_novel('coop', 'demo', 'tiny', shots=2, seed=s, epochs=2) for s in (1, 2)], tmp_path/'demo')
    r = _run('compare', str(tmp_path/'demo'))
    assert r.returncode == 0, r.stderr
    assert '0 of 6 base-to-novel numbers match' in r.stdout and 'average of 1 dataset, not of the 11 benchmarks' in r.stdout, r.stdout
    assert len(pd.read_csv(tmp_path/'demo'/'compare_base_to_novel.csv')) == 6 and not (tmp_path/'demo'/'compare.csv').exists()
    write_base_to_novel([_b2n('coop', d, 75., 65.) for d in BENCHMARKS], tmp_path/'planted')
    r = _run('compare', str(tmp_path/'planted'), '--paper', 'Biomed-DPT')
    assert r.returncode == 0 and '25 of 36 base-to-novel numbers match' in r.stdout, r.stdout + r.stderr   # Table 6 lacks novel
    c = pd.read_csv(tmp_path/'planted'/'compare_base_to_novel.csv').set_index(['dataset', 'metric'])
    assert c.loc[('Average', 'hm'), 'Biomed-DPT'] == 71.11 and c.loc[('BTMRI', 'novel'), 'setting'] == 'not reported by the papers'
    assert (tmp_path/'planted'/'compare_base_to_novel.png').stat().st_size > 0

def test_data_check_command(tmp_path):
    for p,_,_ in read_split('BUSI')['train'][:5]:
        (tmp_path/'BUSI'/'BUSI'/p).parent.mkdir(parents=True, exist_ok=True); (tmp_path/'BUSI'/'BUSI'/p).touch()
    r = _run('data', 'check', '--root', str(tmp_path))
    assert r.returncode == 0, r.stderr
    busi = next(l for l in r.stdout.splitlines() if l.strip().startswith('BUSI '))
    assert 'incomplete' in busi and '5/780' in busi, r.stdout
    assert 'TahaKoleilat/BiomedCoOp/resolve/main/KneeXray.zip' in r.stdout
    assert check_data(tmp_path)['status'].value_counts().to_dict() == {'missing': 10, 'incomplete': 1}
    r = _run('data', 'check', '--root', str(tmp_path/'absent'))
    assert r.returncode == 2 and 'does not exist' in r.stderr and r.stderr.count('\n') == 1, r.stderr
