"A grid spread over processes: torchrun ranks, concurrent commands, a killed shard, SLURM array tasks (submitit's local executor)."
import os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd, pytest

from medprompt.experiment import run_id, run_settings
from medprompt.grid import shard_runs

EXE = Path(sys.executable).parent/'medprompt'
GRID = ['--methods', 'coop,clip_adapter', '--shots', '1,2', '--seeds', '1,2', '--epochs', '2']

def _run(*args, env=None, timeout=900):
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env=env)

def _rows(out:Path)->pd.DataFrame:
    "The results table less what differs between two runs of the same grid (time taken, where the backbone is cached), in run-id order."
    df = pd.read_csv(out/'results.csv').drop(columns=['train_seconds', 'backbone_key'])
    return df.sort_values('run_id').reset_index(drop=True)

def _ids(epochs:int)->list:
    return [run_id(run_settings(method=m, dataset='demo', backbone='tiny', shots=k, seed=s, epochs=epochs))
            for k in (1, 2) for m in ('coop', 'clip_adapter') for s in (1, 2)]

@pytest.fixture(scope='module')
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp('serial')
    r = _run('run', *GRID, '--out', str(out))
    assert r.returncode == 0, r.stderr
    return _rows(out)

def test_run_ids_are_the_grid(serial):
    assert sorted(serial['run_id']) == sorted(_ids(2)) and len(serial) == 8

def test_torchrun_ranks_give_the_serial_rows(serial, tmp_path):
    "Two ranks on the CPU, each its half of the grid (its own cache, so each encodes what it reads): the same rows as one process."
    env = dict(os.environ, MEDPROMPT_CACHE=str(tmp_path/'cache'))
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', '--no-python', str(EXE),
                        'run', *GRID, '--out', str(tmp_path/'out')], capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    trained = [l for l in r.stdout.splitlines() if 'test acc' in l]
    assert sum(l.startswith('rank 0/2 [') for l in trained) == 4 and sum(l.startswith('rank 1/2 [') for l in trained) == 4, r.stdout
    pd.testing.assert_frame_equal(_rows(tmp_path/'out'), serial)

def test_two_commands_into_one_folder_lose_nothing(serial, tmp_path):
    "Two `medprompt run` of the same grid started at once: every run once (claimed by one of them), tables complete."
    procs = [subprocess.Popen([str(EXE), 'run', *GRID, '--out', str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _,e in outs]
    trained = sum(o.count('test acc') for o,_ in outs)
    assert trained == 8, [o for o,_ in outs]                              # no run trained twice
    assert len(list((tmp_path/'runs').glob('*.json'))) == 8
    pd.testing.assert_frame_equal(_rows(tmp_path), serial)

def test_a_killed_shard_run_again_finishes_its_share(tmp_path):
    "SIGKILL a shard after its first finished run; the same command again finishes exactly its share."
    args = ['run', '--methods', 'coop,clip_adapter', '--shots', '1,2', '--seeds', '1,2', '--epochs', '30', '--shard', '1/2', '--out', str(tmp_path)]
    p = subprocess.Popen([str(EXE), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs, deadline = tmp_path/'runs', time.time() + 600
    while not (runs.is_dir() and list(runs.glob('*.json'))) and p.poll() is None and time.time() < deadline: time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    ids = _ids(30)
    share = sorted(ids[k] for k in shard_runs(ids, 1, 2))
    first = sorted(f.stem for f in runs.glob('*.json'))
    assert 1 <= len(first) < len(share) and set(first) <= set(share), first
    r = _run(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('finished before, kept') == len(first), r.stdout
    assert sorted(f.stem for f in runs.glob('*.json')) == share
    assert sorted(pd.read_csv(tmp_path/'results.csv')['run_id']) == share

def test_submit_through_submitits_local_executor(serial, tmp_path):
    "`medprompt submit --cluster local`: one submitit array task per shard (separate processes), waited for; the serial rows."
    r = _run('submit', '--cluster', 'local', '--shards', '3', '--wait', *GRID, '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Submitted 3 array tasks' in r.stdout, r.stdout
    logs = ''.join(f.read_text() for f in (tmp_path/'submitit').glob('*_log.out'))
    assert all(f'shard {i}/3 [' in logs for i in range(3)), logs[-3000:]
    pd.testing.assert_frame_equal(_rows(tmp_path), serial)

@pytest.mark.parametrize('shard', ['2/2', '1', 'a/b', '-1/3', '1/0'])
def test_bad_shard_is_one_error_line(shard, tmp_path):
    r = _run('run', f'--shard={shard}', '--out', str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith('medprompt: error: --shard takes i/n') and r.stderr.count('\n') == 1, r.stderr
    assert not (tmp_path/'runs').exists()
