"The description-bank benchmark runs on the tiny backbone and prints its ratios (read, never asserted on)."
import subprocess, sys
from pathlib import Path

def test_text_bank_benchmark_runs_and_prints_ratios():
    script = Path(__file__).parents[1]/'benchmarks'/'text_banks.py'
    out = subprocess.run([sys.executable, str(script), '--datasets', '1', '--reps', '1'], capture_output=True, text=True,
                         timeout=600, cwd=script.parent)
    assert out.returncode == 0, out.stderr
    assert 'bank: 200 descriptions of 1 benchmarks' in out.stdout, out.stdout
    assert out.stdout.count('x as fast') == 2 and 'the same features' in out.stdout, out.stdout
