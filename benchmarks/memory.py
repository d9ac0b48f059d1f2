"""Peak memory of the pipeline per step, at two corpus sizes (lower is better; the goal is a peak that
does not grow with the corpus, at most 2 GB).

Each step of `plm-sae-nb run` (data → extract → train → enrich → steer → report) runs in its own
process on planted proteins, and the step's peak resident set size is read from the kernel
(`os.wait4`'s `ru_maxrss`, which includes the interpreter, torch and the model). The config is the
demo's with the paper's SAE width (expansion 10: 3,200 latents for the 320-wide layer) and the
number of planted proteins set to reach `--residues`. Printed:

- `memory <step>: ours X MiB at N1 residues, reference Y MiB at N2 residues, ratio X/Y` — the
  peak at the largest size over the peak at the smallest (1.0 = independent of the corpus);
- a table of wall time, peak RSS and on-disk size per step and size;
- the bytes per residue on disk of the activations and of the latents, and what a Swiss-Prot-scale
  run (`--project` residues, default 200M) would take at that rate.

Usage: python benchmarks/memory.py [--residues 250000 1000000] [--expansion 10] [--steps 2000] [--steer-n 16] [--keep DIR]
"""
from __future__ import annotations
import argparse, json, math, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

STEPS = ('data', 'extract', 'train', 'enrich', 'steer', 'report')

def mean_planted_length(max_length:int, n:int=400)->float:
    "Mean length of the planted proteins the data step makes at this `max_length` (from a sample of `n`)."
    from plm_sae_nb.planted import planted_dataset
    ps = planted_dataset(n_proteins=n, seed=12345, max_len=min(500, max_length), median_len=min(300., max_length * 0.6))
    return sum(len(p) for p in ps) / len(ps)

def du(path:Path)->int:
    "Bytes on disk under `path` (0 if absent)."
    if not path.exists(): return 0
    if path.is_file(): return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())

def run_step(cfg_path:Path, out:Path, step:str)->tuple[float, int]:
    "Run `plm-sae-nb run CFG --out OUT --until STEP` in a child process: (wall seconds, peak RSS bytes)."
    cmd = [sys.executable, '-m', 'plm_sae_nb.cli', 'run', str(cfg_path), '--out', str(out), '--until', step]
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, 'TQDM_DISABLE': '1'})
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read(); p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode: raise RuntimeError(f"step {step} failed ({p.returncode}):\n{err[-3000:]}")
    return time.perf_counter() - t, ru.ru_maxrss * 1024   # Linux: kilobytes

def one_size(residues:int, root:Path, a)->dict:
    n_prot = math.ceil(residues / mean_planted_length(a.max_length))
    cfg = {'seed': 0, 'data': {'source': 'planted', 'n_proteins': n_prot, 'max_length': a.max_length},
           'model': {'name': 'esm2_t6_8M_UR50D', 'weights': 'random'},
           'sae': {'expansion': a.expansion, 'steps': a.steps}, 'steer': {'n': a.steer_n}}
    out = root/f'run_{residues}'; cfg_path = root/f'config_{residues}.json'
    cfg_path.write_text(json.dumps(cfg))
    res = {}
    for s in STEPS:
        wall, rss = run_step(cfg_path, out, s)
        res[s] = dict(wall=wall, rss=rss)
        print(f"#   {residues:>9,} residues  {s:8s} {wall:7.1f} s  peak {rss / 2**20:7.0f} MiB", flush=True)
    res['n_residues'] = json.loads((out/'steps'/'data.json').read_text())['summary']['residues']
    rec = lambda s: json.loads((out/'steps'/f'{s}.json').read_text())['summary']
    err = rec('enrich').get('auroc_max_error')
    print(f"#   {residues:>9,} residues  enrich AUROC: {'exact' if err is None else f'binned, error bound {err:.2g}'}; report: {rec('report')['line']}", flush=True)
    res['disk'] = {k: du(out/k) for k in ('activations', 'sae', 'latents.npz', 'enrichment.csv', 'report.html')}
    return res

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--residues', type=int, nargs='+', default=[250_000, 1_000_000])
    ap.add_argument('--expansion', type=int, default=10); ap.add_argument('--steps', type=int, default=2000)
    ap.add_argument('--steer-n', type=int, default=16, help='sequences per steering arm (the step runs before report; its memory does not depend on the corpus)')
    ap.add_argument('--max-length', type=int, default=500); ap.add_argument('--project', type=float, default=200e6)
    ap.add_argument('--keep', default=None, help='write the runs here and keep them (default: a temporary directory)')
    a = ap.parse_args(argv)
    root = Path(a.keep or tempfile.mkdtemp(prefix='plm_sae_memory_')); root.mkdir(parents=True, exist_ok=True)
    print(f"# load average {os.getloadavg()[0]:.2f} before the start; {os.cpu_count()} CPUs; expansion {a.expansion}, {a.steps} SAE steps, {a.steer_n} steered sequences per arm", flush=True)
    try:
        R = {n: one_size(n, root, a) for n in sorted(a.residues)}
    finally:
        if not a.keep: shutil.rmtree(root, ignore_errors=True)
    lo, hi = min(R), max(R)
    for s in STEPS:
        x, y = R[hi][s]['rss'], R[lo][s]['rss']
        print(f"memory {s}: ours {x / 2**20:,.0f} MiB at {R[hi]['n_residues']:,} residues, "
              f"reference {y / 2**20:,.0f} MiB at {R[lo]['n_residues']:,} residues, ratio {x / y:.2f}")
    peak = max(R[hi][s]['rss'] for s in STEPS)
    print(f"memory peak over all steps at {R[hi]['n_residues']:,} residues: {peak / 2**30:.2f} GiB (goal <= 2 GB)")
    per = R[hi]['disk']['activations'] / R[hi]['n_residues']
    print(f"disk activations: {per:,.0f} bytes/residue; at {a.project:,.0f} residues: {per * a.project / 2**30:,.0f} GiB")
    if R[hi]['disk'].get('latents.npz'):   # the report's sample (report.max_residues), not a per-residue cost
        print(f"disk latents.npz: {R[hi]['disk']['latents.npz'] / 2**20:,.0f} MiB at {R[hi]['n_residues']:,} residues (the report's sample only)")

if __name__ == '__main__': main()
