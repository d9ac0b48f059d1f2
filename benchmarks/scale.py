"""Benchmarks of `plm_sae_nb.distributed` on CPU: sharded extraction with 1 vs 2 torchrun processes, live vs store
training throughput, and projections for Swiss-Prot and UniRef50 (ESM-2 8M, layer 4, float16 store).

- extract_residues_per_s: `dist_extract` of random-init ESM-2 8M (the real architecture, random weights: the cost is
  the same as with pretrained weights), layer 4, float16, ~100 synthetic proteins with a Swiss-Prot-like length
  distribution (log-normal, mean ~290 aa, clipped to 30..1022), timed inside the workers after start-up and model
  construction, merge included. ours = 2 processes (gloo, 1 thread each), reference = 1 process (1 thread).
- train_tokens_per_s: `train_sae` (ReLU SAE, d_sae = 8 x 320, batch 4096) on a `LiveSource` (ours) vs on the
  `ActivationStore` of the same proteins (reference), one process, one thread.

Projections (printed with their assumptions): wall time = residues / measured residues/s (times scale linearly with
processes only if every process has its own core/GPU); storage = residues x 320 x 2 bytes (float16 rows; the index and
config are < 0.1% more). Swiss-Prot: 570k proteins, 200M residues. UniRef50: 60M proteins x an ASSUMED mean length of
270 residues (the cluster representatives' mean length is not measured here) = 16.2G residues.
The build machine has 2 cores shared by several jobs: numbers are contended and say so.
Run: PYTHONPATH=. python benchmarks/scale.py
"""
import json, os, subprocess, sys, tempfile, textwrap, time
from pathlib import Path
import numpy as np

WORKER = textwrap.dedent('''
    import json, sys, time
    import torch; torch.set_num_threads(1)
    import torch.distributed as dist
    from pathlib import Path
    from plm_sae_nb.uniprot import load_proteins
    from plm_sae_nb.esm import random_esm
    from plm_sae_nb.distributed import init_distributed, dist_extract
    tmp, nproc = Path(sys.argv[1]), int(sys.argv[2])
    info = init_distributed()
    model, alphabet = random_esm('esm2_t6_8M_UR50D', seed=0)
    proteins = load_proteins(tmp/'proteins.jsonl')
    if info.world_size > 1: dist.barrier()
    t = time.perf_counter()
    st = dist_extract(model, alphabet, proteins, 4, tmp/f'store{nproc}', progress=False)
    dt = time.perf_counter() - t
    if info.rank == 0: (tmp/f'time{nproc}.json').write_text(json.dumps(dict(seconds=dt, rows=len(st))))
''')

def extract_rate(tmp:Path, nproc:int)->float:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1])] + sys.path))
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', str(tmp/'worker.py'), str(tmp), str(nproc)],
                       env=env, capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f'torchrun with {nproc} processes failed:\n{r.stderr[-3000:]}')
    t = json.loads((tmp/f'time{nproc}.json').read_text())
    return t['rows'] / t['seconds']

def line(name, ours, ref, unit=''): print(f'{name}: ours {ours:,.0f}{unit}, reference {ref:,.0f}{unit}, ratio {ours / ref:.2f}')

def hours(residues, rate): return residues / rate / 3600

if __name__ == '__main__':
    import torch; torch.set_num_threads(1)
    from plm_sae_nb.core import Protein
    from plm_sae_nb.uniprot import save_proteins
    from plm_sae_nb.esm import random_esm
    from plm_sae_nb.store import ActivationStore
    from plm_sae_nb.sae import SAEConfig
    from plm_sae_nb.train import train_sae
    from plm_sae_nb.distributed import LiveSource
    rng = np.random.default_rng(0); AA = np.array(list('ACDEFGHIKLMNPQRSTVWY'))
    L = np.clip(rng.lognormal(5.6, 0.55, 100), 30, 1022).astype(int)
    proteins = [Protein(f'B{i:04d}', ''.join(rng.choice(AA, int(n)))) for i, n in enumerate(L)]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d); (tmp/'worker.py').write_text(WORKER); save_proteins(proteins, tmp/'proteins.jsonl')
        r1, r2 = extract_rate(tmp, 1), extract_rate(tmp, 2)
        a, b = ActivationStore(tmp/'store1'), ActivationStore(tmp/'store2')
        assert sorted(a.ids) == sorted(b.ids) and len(a) == len(b)
        print(f'# {len(proteins)} proteins, {L.sum():,} residues (mean {L.mean():.0f}), ESM-2 8M random-init, layer 4, float16, CPU, 1 thread/process, contended 2-core machine')
        line('extract_residues_per_s (2 processes vs 1)', r2, r1, ' res/s')
        model, alphabet = random_esm('esm2_t6_8M_UR50D', seed=0)
        cfg = SAEConfig(d_in=320, expansion=8, batch_size=4096, steps=20, log_every=20, seed=0)
        t = time.perf_counter(); train_sae(cfg, b, progress=False); ts = time.perf_counter() - t
        live = LiveSource(model, alphabet, proteins, 4, buffer_rows=16384, warmup_proteins=32)
        t = time.perf_counter(); train_sae(cfg, live, progress=False); tl = time.perf_counter() - t
        line('train_tokens_per_s (LiveSource vs ActivationStore, 20 steps x 4096)', cfg.steps * cfg.batch_size / tl, cfg.steps * cfg.batch_size / ts, ' tok/s')
    sp_res, u50_res, u50_len = 200e6, 60e6 * 270, 270
    gb = lambda n: n * 320 * 2 / 1e9
    print(f'# projections at the measured CPU rates (1 process: {r1:,.0f} res/s; 2 processes: {r2:,.0f} res/s); storage = residues x 320 x 2 B')
    print(f'swissprot (570k proteins, 200M residues): storage {gb(sp_res):,.0f} GB; wall time 1 process {hours(sp_res, r1):,.0f} h, '
          f'2 processes {hours(sp_res, r2):,.0f} h, 64 processes on 64 free cores (linear scaling assumed) {hours(sp_res, 64 * r1):,.1f} h')
    print(f'uniref50 (60M proteins x assumed mean {u50_len} aa = {u50_res/1e9:.1f}G residues): storage {gb(u50_res)/1e3:,.1f} TB; '
          f'wall time 1 process {hours(u50_res, r1)/24:,.0f} days, 64 processes {hours(u50_res, 64 * r1)/24:,.1f} days '
          f'-> beyond one disk: train from LiveSource instead of a store')
    print('# GPU rates are not measured here (no GPU on the build machine); rerun this script on a GPU node for them.')
