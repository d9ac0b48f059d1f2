"""`plm-sae-nb demo` end to end, in a fresh temporary run directory, against its budget of 5 minutes
(300 s) on 2 CPU cores. Prints wall and CPU seconds of the whole command and the
seconds of each step (from the run directory's step records), then the same command again, which
must skip every step. Run: `python benchmarks/demo.py [--threads N]` (default: torch's choice; say
which, and how loaded the machine was, when reporting)."""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--threads', type=int); a = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix='plm_sae_demo_bench_'))/'run'
    cmd = [sys.executable, '-m', 'plm_sae_nb.cli', 'demo', '--out', str(out), '-q'] + (['--threads', str(a.threads)] if a.threads else [])
    def timed():
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode: sys.exit(p.stderr[-3000:])
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), p.stdout
    wall, cpu, stdout = timed()
    print(stdout)
    print(f"demo_wall (s): ours {wall:.1f}, reference 300 (the 5-minute budget), ratio {wall/300:.2f}")
    print(f"demo_cpu (s): ours {cpu:.1f}, reference 300, ratio {cpu/300:.2f}")
    for step in ('data', 'extract', 'train', 'enrich', 'steer', 'report'):
        rec = json.loads((out/'steps'/f'{step}.json').read_text())
        print(f"demo_step_{step} (s): ours {rec['seconds']:.1f}, reference {wall:.1f} (whole demo), ratio {rec['seconds']/wall:.2f}")
    wall2, _, stdout2 = timed()
    skipped = stdout2.count(' skipped ')
    print(f"demo_rerun (s): ours {wall2:.1f}, reference {wall:.1f} (first run), ratio {wall2/wall:.3f}; steps skipped: {skipped}/6")
    print(f"threads: {a.threads or 'torch default'}; load average: {os.getloadavg()}")
