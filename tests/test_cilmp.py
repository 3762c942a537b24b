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
