"The augmentation-cost benchmark runs on the tiny backbone and prints its ratios (read, never asserted on)."
import subprocess, sys
from pathlib import Path

def test_augment_cost_benchmark_runs_and_prints_ratios():
    script = Path(__file__).parents[1]/'benchmarks'/'augment_cost.py'
    out = subprocess.run([sys.executable, str(script), '--epochs', '2', '--shots', '2'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert 'feature encoding: 2 augmented views' in out.stdout and out.stdout.count('x faster') == 2, out.stdout
