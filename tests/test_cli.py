"The `medprompt` command, as a user runs it (a fresh process, the installed entry point)."
import subprocess, sys
from pathlib import Path
import pandas as pd

def _medprompt(*args):
    "Run the installed `medprompt` console script of this environment."
    exe = Path(sys.executable).parent/'medprompt'
    assert exe.is_file(), f'{exe} missing: the package is not installed with its entry point'
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=900)

def test_list_names_methods_and_datasets():
    out = _medprompt('list')
    assert out.returncode == 0, out.stderr
    assert 'coop' in out.stdout and 'BTMRI' in out.stdout and 'demo' in out.stdout

def test_run_writes_tables(tmp_path):
    out = _medprompt('run', '--methods', 'coop', '--shots', '2,4', '--seeds', '1,2', '--epochs', '3', '--out', str(tmp_path), '--save')
    assert out.returncode == 0, out.stderr
    df = pd.read_csv(tmp_path/'results.csv')
    assert sorted(df['shots'].unique()) == [2, 4] and len(df) == 4
    assert df['test_acc'].between(0, 100).all()
    assert len(list(tmp_path.glob('*.pt'))) == 4
    assert 'mean' not in (tmp_path/'results.md').read_text() and '±' in (tmp_path/'results.md').read_text()

def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    for args, msg in ((['--methods', 'nope'], 'Unknown methods'), (['--dataset', str(tmp_path/'missing')], 'neither a registered dataset'),
                      (['--shots', '500'], 'has only')):
        out = _medprompt('run', *args, '--out', str(tmp_path/'o'))
        assert out.returncode == 2 and msg in out.stderr and 'Traceback' not in out.stderr, out.stderr

def test_speed_benchmark_runs_and_prints_ratios():
    "The benchmark script runs on the tiny backbone (its ratios are read, never asserted on)."
    script = Path(__file__).parents[1]/'benchmarks'/'speed.py'
    out = subprocess.run([sys.executable, str(script), '--reps', '1'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('x faster') == 2 and 'saves' in out.stdout
    assert 'Biomed-DPT step' in out.stdout and out.stdout.count('x the images/s') == 2 and 'MiB' in out.stdout
