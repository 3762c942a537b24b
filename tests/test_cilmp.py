"CILMP from Python end to end: LLM representations from a tiny local causal LM (the CLI's function), then a run of the experiment runner."
from medprompt.data import DATASETS
from medprompt.experiment import run_experiment
from medprompt.llm_reps import save_tiny_causal_lm, llm_reps_command, load_llm_reps
from medprompt.train import load_method

def test_llm_reps_command_then_cilmp_through_run_experiment(tmp_path):
    lm, out, lines = save_tiny_causal_lm(tmp_path/'lm'), tmp_path/'reps.pt', []
    assert llm_reps_command(str(lm), 'demo', str(out), max_new_tokens=4, echo=lines.append) == 0
    assert load_llm_reps(out, list(DATASETS['demo'].classnames), hidden_size=16).shape == (4, 10, 16)
    assert llm_reps_command(str(lm), 'demo', str(out), max_new_tokens=4, echo=lines.append) == 0
    assert any('4 of 4 classes already in' in l for l in lines)          # resumed: nothing recomputed
    row = run_experiment('cilmp', 'demo', 'tiny', shots=4, epochs=2, bs=8, method_kwargs=dict(reps=str(out)), save_to=tmp_path)
    assert row['method'] == 'cilmp' and 0 <= row['test_acc'] <= 100
    m = load_method(tmp_path/f"{row['run_id']}.pt")                   # rebuilt from the saved state and the reps file
    assert m.name == 'cilmp' and m.llm_reps.shape == (4, 10, 16)

def test_llm_reps_and_cilmp_from_the_shell(tmp_path):
    "`medprompt llm-reps` writes the representations, `medprompt run --methods cilmp --set reps=...` trains on them."
    import subprocess, sys
    lm, out = save_tiny_causal_lm(tmp_path/'lm'), tmp_path/'reps.pt'
    cli = [sys.executable, '-c', 'import sys; from medprompt.cli import main; sys.exit(main())']
    r = subprocess.run(cli + ['llm-reps', '--model', str(lm), '--classes', 'demo', '--out', str(out), '--max-new-tokens', '4'],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert load_llm_reps(out, list(DATASETS['demo'].classnames)).shape[0] == 4
    r = subprocess.run(cli + ['run', '--methods', 'cilmp', '--shots', '2', '--epochs', '1', '--bs', '8', '--set', f'reps={out}',
                              '--out', str(tmp_path/'runs')], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert (tmp_path/'runs'/'results.csv').is_file()
    bad = subprocess.run(cli + ['llm-reps', '--model', str(tmp_path/'nothing'), '--classes', 'demo', '--out', str(out)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith('medprompt: error:'), bad.stderr

def test_cilmp_defaults_to_the_whole_training_split(tmp_path):
    "CILMP's reference trains on the full training split: without `shots` run_experiment does too, and its record says so."
    import json
    from medprompt.data import load_dataset
    from medprompt.experiment import write_run
    row = run_experiment('cilmp', 'demo', 'tiny', epochs=1, bs=16)
    assert (row['shots'], row['protocol'], row['precision']) == (0, 'full_data', 'fp32')   # CPU: fp32
    assert row['settings']['shots'] == 0 and row['n_train'] == len(load_dataset('demo').train) > 16 * 4   # every training image
    rec = json.loads(write_run(row, tmp_path).read_text())
    assert (rec['task'], rec['protocol'], rec['settings']['shots']) == ('full-data classification', 'full_data', 0)
    assert any('usr922/cilmp' in s for s in rec['presets'])
    import contextlib, io
    with contextlib.redirect_stdout(said := io.StringIO()): few = run_experiment('cilmp', 'demo', 'tiny', shots=2, epochs=1, bs=16)
    assert (few['shots'], few['protocol']) == (2, 'few_shot')
    assert 'the cilmp reference trains on the whole training split, this run on 2 shots' in said.getvalue()   # the one-line note
