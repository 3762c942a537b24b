"The `medprompt` command, as a user runs it (a fresh process, the installed entry point)."
import importlib.util, json, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd

from medprompt.cli import method_names, dataset_names, parser

def _medprompt(*args):
    "Run the installed `medprompt` console script of this environment."
    exe = Path(sys.executable).parent/'medprompt'
    assert exe.is_file(), f'{exe} missing: the package is not installed with its entry point'
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=900)

def test_list_names_methods_and_datasets():
    out = _medprompt('list')
    assert out.returncode == 0, out.stderr
    assert 'coop' in out.stdout and 'BTMRI' in out.stdout and 'demo' in out.stdout

def test_help_and_list_import_no_torch():
    "`--help` and `list` never import torch, fastai or open_clip (what made them take ~25 s); timed in benchmarks/cli_startup.py."
    code = ("import sys\nfrom medprompt.cli import main\nmain(['list'])\ntry: main(['--help'])\nexcept SystemExit: pass\n"
            "print('HEAVY', sorted(m for m in ('torch', 'fastai', 'open_clip', 'timm', 'transformers', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'HEAVY []' in out.stdout and 'predict' in out.stdout, out.stdout

def test_static_names_equal_the_registries():
    "The names `list` reads from the source are those that importing registers (a new method module is seen by both)."
    from medprompt.train import all_methods
    from medprompt.data import DATASETS
    assert method_names() == list(all_methods())
    assert dataset_names() == list(DATASETS)

def test_run_writes_tables(tmp_path):
    out = _medprompt('run', '--methods', 'coop', '--shots', '2,4', '--seeds', '1,2', '--epochs', '3', '--out', str(tmp_path), '--save')
    assert out.returncode == 0, out.stderr
    df = pd.read_csv(tmp_path/'results.csv')
    assert sorted(df['shots'].unique()) == [2, 4] and len(df) == 4
    assert df['test_acc'].between(0, 100).all() and df['balanced_acc'].between(0, 100).all() and df['macro_f1'].between(0, 100).all()
    assert (df['test_acc'] == df['test_acc'].round(2)).all()
    assert len(list(tmp_path.glob('*.pt'))) == 4 and len(list((tmp_path/'runs').glob('*.json'))) == 4
    assert len(list((tmp_path/'runs').glob('*-confusion.png'))) == 4 and (tmp_path/'accuracy_vs_shots.png').stat().st_size > 0
    md = (tmp_path/'results.md').read_text()
    assert 'mean' not in md and '±' in md and 'balanced accuracy' in md and 'macro-F1' in md
    for line in ('[1/4] coop | demo | 2 shots | seed 1 | ETA --', '[2/4] coop | demo | 2 shots | seed 2 | ETA'):
        assert line in out.stdout, out.stdout
    rec = json.loads(next((tmp_path/'runs').glob('coop-demo-4shot-seed2-*.json')).read_text())
    assert set(rec['versions']) == {'medprompt', 'torch', 'open_clip_torch', 'timm', 'transformers', 'fastai'} and rec['versions']['torch']
    assert rec['settings']['epochs'] == 3 and rec['backbone_key'].startswith('tiny') and rec['metrics']['acc1'] == df.set_index('run_id').loc[rec['run_id'], 'test_acc']

def test_rerun_keeps_and_skips_finished_runs(tmp_path):
    "Re-running a grid into the same --out keeps its rows and retrains nothing; a wider grid adds only the new runs."
    a = _medprompt('run', '--methods', 'coop', '--shots', '2', '--seeds', '1,2', '--epochs', '2', '--out', str(tmp_path))
    assert a.returncode == 0, a.stderr
    records = {p: p.read_bytes() for p in (tmp_path/'runs').glob('*.json')}
    b = _medprompt('run', '--methods', 'coop', '--shots', '2,4', '--seeds', '1,2', '--epochs', '2', '--out', str(tmp_path))
    assert b.returncode == 0, b.stderr
    assert b.stdout.count('finished before, kept') == 2 and b.stdout.count('test acc') == 2, b.stdout
    assert all(p.read_bytes() == v for p,v in records.items())          # the finished runs were not redone
    df = pd.read_csv(tmp_path/'results.csv')
    assert len(df) == 4 and sorted(zip(df['shots'], df['seed'])) == [(2, 1), (2, 2), (4, 1), (4, 2)]
    c = _medprompt('run', '--methods', 'coop', '--shots', '2', '--seeds', '1', '--epochs', '2', '--lr', '0.01', '--out', str(tmp_path))
    assert c.returncode == 0 and 'finished before' not in c.stdout, c.stdout   # another lr is another run ...
    df = pd.read_csv(tmp_path/'results.csv')
    assert len(df) == 5 and (df['overrides'] == 'epochs=2, lr=0.01').sum() == 1   # ... merged beside the others, never 4 -> 1

def test_options_reach_the_run(tmp_path):
    "--lr, --bs, --epochs, --set, --precision and --device reach `run_experiment` (they are in each run's settings)."
    out = _medprompt('run', '--methods', 'coop', '--shots', '2', '--epochs', '2', '--lr', '0.01', '--bs', '4', '--set', 'n_ctx=8',
                     '--set', 'ctx_init=none', '--precision', 'fp32', '--device', 'cpu', '--out', str(tmp_path))
    assert out.returncode == 0, out.stderr
    s = json.loads(next((tmp_path/'runs').glob('*.json')).read_text())['settings']
    assert (s['lr'], s['bs'], s['epochs'], s['precision'], s['settings']) == (0.01, 4, 2, 'fp32', {'n_ctx': 8, 'ctx_init': None})
    assert 'device' not in s   # where a run is computed does not change what it is

def test_random_backbone_warned_once_on_real_data(tmp_path):
    from PIL import Image
    for c in ('a', 'b'):
        (tmp_path/'data'/c).mkdir(parents=True)
        for i in range(4): Image.new('L', (16, 16), 40*i + 100*(c == 'b')).save(tmp_path/'data'/c/f'{i}.png')
    out = _medprompt('run', '--methods', 'zeroshot,coop', '--shots', '1', '--epochs', '1', '--dataset', str(tmp_path/'data'), '--out', str(tmp_path/'o'))
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("medprompt: warning: Backbone 'tiny' is a small random model") == 1, out.stderr
    demo = _medprompt('run', '--methods', 'zeroshot', '--shots', '1', '--out', str(tmp_path/'d'))
    assert demo.returncode == 0 and 'random model' not in demo.stderr, demo.stderr

def test_predict_arguments():
    "`medprompt predict CHECKPOINT IMAGES... [--bs N] [--csv OUT] [--device D]` parses (it calls `medprompt.inference.predict_command`)."
    a = parser().parse_args(['predict', 'runs/x/coop.pt', 'a.png', 'b.jpg', 'folder/', '--bs', '16', '--csv', 'p.csv', '--device', 'cpu'])
    assert (a.checkpoint, a.images, a.bs, a.csv, a.device) == ('runs/x/coop.pt', ['a.png', 'b.jpg', 'folder/'], 16, 'p.csv', 'cpu')
    a = parser().parse_args(['predict', 'coop.pt', 'a.png'])
    assert (a.bs, a.csv, a.device) == (32, None, None)

def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    for args, msg in ((['--methods', 'nope'], 'Unknown methods'), (['--dataset', str(tmp_path/'missing')], 'neither a registered dataset'),
                      (['--shots', '500'], 'has only')):
        out = _medprompt('run', *args, '--out', str(tmp_path/'o'))
        assert out.returncode == 2 and msg in out.stderr and 'Traceback' not in out.stderr, out.stderr
        assert out.stderr.strip().count('\n') == 0 and out.stderr.startswith('medprompt: error: '), out.stderr

B2N = ['run', '--protocol', 'base-to-novel', '--methods', 'coop,biomedcoop', '--shots', '2', '--epochs', '1']

def test_base_to_novel_run_skips_finished_runs_and_compares(tmp_path):
    "`run --protocol base-to-novel` records each run, rebuilds base_to_novel.csv/.md/.png, skips finished runs; `compare` reads it."
    a = _medprompt(*B2N, '--seeds', '1,2', '--out', str(tmp_path))
    assert a.returncode == 0, a.stderr
    assert '[1/4] coop | demo | 2 shots | seed 1 | base ' in a.stdout and '| novel ' in a.stdout and '| HM ' in a.stdout, a.stdout
    records = {p: p.read_bytes() for p in (tmp_path/'runs'/'base_to_novel').glob('*.json')}
    assert len(records) == 4 and all(p.name.startswith('base2novel-') for p in records)
    assert all((tmp_path/f'base_to_novel.{e}').stat().st_size > 0 for e in ('csv', 'md', 'png'))
    b = _medprompt(*B2N, '--seeds', '1,2,3', '--out', str(tmp_path))
    assert b.returncode == 0, b.stderr
    assert b.stdout.count('finished before, kept') == 4 and b.stdout.count('| HM ') == 2, b.stdout
    assert all(p.read_bytes() == v for p,v in records.items())          # the finished runs were not redone
    df = pd.read_csv(tmp_path/'base_to_novel.csv')
    assert len(df) == 6 and sorted(zip(df['method'], df['seed'])) == sorted((m, s) for m in ('biomedcoop', 'coop') for s in (1, 2, 3))
    assert (df['shots'] == 2).all() and df['novel_acc'].between(0, 100).all() and not (tmp_path/'results.csv').exists()
    assert '| coop ' in (tmp_path/'base_to_novel.md').read_text()
    c = _medprompt('compare', str(tmp_path))
    assert c.returncode == 0, c.stderr
    assert '0 of 12 base-to-novel numbers match a published one' in c.stdout, c.stdout   # 2 methods x (demo, Average) x 3 metrics
    cmp = pd.read_csv(tmp_path/'compare_base_to_novel.csv')
    assert sorted(set(cmp['metric'])) == ['base', 'hm', 'novel'] and cmp['setting'].str.contains('backbone tiny').all()

def test_base_to_novel_defaults_to_16_shots_and_a_killed_run_runs_again(tmp_path):
    "Without --shots a base-to-novel grid trains on 16 shots per base class; SIGKILLed after its first run, the same command finishes it."
    args = ['run', '--protocol', 'base-to-novel', '--methods', 'coop', '--seeds', '1,2,3', '--epochs', '30', '--out', str(tmp_path)]
    p = subprocess.Popen([str(Path(sys.executable).parent/'medprompt'), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records, deadline = tmp_path/'runs'/'base_to_novel', time.time() + 600
    while not (records.is_dir() and list(records.glob('*.json'))) and p.poll() is None and time.time() < deadline: time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    first = sorted(f.stem for f in records.glob('*.json'))
    assert 1 <= len(first) < 3, first
    r = _medprompt(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('finished before, kept') == len(first) and '| 16 shots |' in r.stdout, r.stdout
    df = pd.read_csv(tmp_path/'base_to_novel.csv')
    assert sorted(df['seed']) == [1, 2, 3] and (df['shots'] == 16).all() and len(list(records.glob('*.json'))) == 3

def test_base_to_novel_refuses_per_class_methods_before_any_training(tmp_path):
    out = _medprompt('run', '--protocol', 'base-to-novel', '--methods', 'coop,linear_probe,tip_adapter', '--out', str(tmp_path/'o'))
    assert out.returncode == 2 and out.stderr.startswith('medprompt: error: linear_probe, tip_adapter learn weights per class'), out.stderr
    assert out.stderr.strip().count('\n') == 0 and 'Traceback' not in out.stderr, out.stderr
    assert not (tmp_path/'o').exists()                                   # nothing trained, nothing written
    for extra, msg in ((['--subset', 'base'], '--subset base is for few-shot runs'), (['--save'], '--save keeps few-shot')):
        bad = _medprompt(*B2N, *extra, '--out', str(tmp_path/'o'))
        assert bad.returncode == 2 and msg in bad.stderr and not (tmp_path/'o').exists(), bad.stderr
    assert 'base-to-novel' in _medprompt('run', '--help').stdout

def test_speed_benchmark_runs_and_prints_ratios():
    "The benchmark script runs on the tiny backbone (its ratios are read, never asserted on); its vocabulary and grid arithmetic are checked."
    script = Path(__file__).parents[1]/'benchmarks'/'speed.py'
    out = subprocess.run([sys.executable, str(script), '--reps', '1'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('measured: ') == 4 and out.stdout.count('x faster') == 2 and 'tokens long on average' in out.stdout
    assert 'Biomed-DPT step' in out.stdout and out.stdout.count('x the images/s') == 1 and 'MiB' in out.stdout and 'model check' in out.stdout
    assert out.stdout.count('extrapolated: ') == 3 and out.stdout.count('x less time') == 3 and 'the few-shot grid of all ' in out.stdout
    assert 'teacher' not in out.stdout and 'assumptions' in out.stdout   # no teacher-encoded-once "speed-up": the references do it too
    spec = importlib.util.spec_from_file_location('speed', script)
    speed = importlib.util.module_from_spec(spec); spec.loader.exec_module(speed)
    vocab = speed.corpus_vocab(speed.shipped_texts())
    assert vocab == speed.corpus_vocab(speed.shipped_texts()) and vocab[0] == '[PAD]'
    tok = speed.wordpiece_tokenizer(vocab)
    btmri = [d for ds in speed.llm_prompt_bank('BTMRI').values() for d in ds]
    assert 15 < sum(len(tok(d)['input_ids']) for d in btmri) / len(btmri) < 21   # PubMedBERT: ~18 tokens
    u = dict(image=1., text_short=0., text_full=0., image_step=0., classes=4)   # count images: one second each
    enc = speed.shared_encoding(['biomedcoop'], 'BTMRI', 1717, u)   # 3 seeds x (64 images x 100 views + 16 val), the test split once
    assert enc == dict(zip(speed.PHASES, (3 * (64*100 + 16), 0., 1717)))
    ours, ref = speed.run_phases('biomedcoop', 'BTMRI', 16, 1717, u)   # the reference: 2 tower passes per image and epoch, the test split every run
    assert ours == dict.fromkeys(speed.PHASES, 0.) and ref == dict(zip(speed.PHASES, (2*64*100, 0., 1717)))

def test_startup_benchmark_runs():
    "benchmarks/cli_startup.py times --help and list against a bare interpreter (numbers read, never asserted on)."
    script = Path(__file__).parents[1]/'benchmarks'/'cli_startup.py'
    out = subprocess.run([sys.executable, str(script), '--reps', '1'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert 'medprompt --help' in out.stdout and 'medprompt list' in out.stdout and out.stdout.count('x python -c pass') == 5
