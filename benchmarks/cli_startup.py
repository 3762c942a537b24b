"""Start-up time of the `medprompt` command: `--help` and `list` must answer at once (issue 12: under 2 s).

Runs each command in a fresh process, `--reps` times, and prints the median seconds and the ratio to a
bare `python -c pass` (the floor any Python command pays), and, for contrast, `import torch` and the
full training stack that `run` imports.

    python benchmarks/cli_startup.py
    python benchmarks/cli_startup.py --reps 10

Start-up depends on the machine and its load: read the numbers, do not assert on them.
"""
import argparse, os, subprocess, sys, time

COMMANDS = {
    'python -c pass': [sys.executable, '-c', 'pass'],
    'medprompt --help': [sys.executable, '-c', 'import sys; from medprompt.cli import main; sys.argv[0] = "medprompt"; main(["--help"])'],
    'medprompt list': [sys.executable, '-c', 'from medprompt.cli import main; main(["list"])'],
    'import torch': [sys.executable, '-c', 'import torch'],
    'import medprompt.experiment (what run needs)': [sys.executable, '-c', 'import medprompt.experiment'],
}

def seconds(cmd:list, reps:int)->float:
    "Median wall-clock seconds of running `cmd` in a fresh process."
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts)//2]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--reps', type=int, default=5, help='runs of each command (the median is printed)')
    a = p.parse_args()
    base = None
    for name, cmd in COMMANDS.items():
        s = seconds(cmd, a.reps)
        base = base or s
        print(f'{name:45} {s:6.2f} s  {s/base:6.1f}x python -c pass')

if __name__ == '__main__': main()
