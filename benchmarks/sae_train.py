"""SAE training throughput, in training tokens per second (higher is better).

Lines printed (`name: ours X, reference Y, ratio Z`, ratio = ours / reference):

- `sae_train store vs memory`: `train_sae` reading an on-disk activation store vs the same rows
  in memory (`TensorSource`), same config (TopK k=32, d_in=320, d_sae=3200, batch 4096); goal >= 0.9.
  The store is a float16 `plm_sae_nb.ActivationStore` written from the same rows. Both sources are
  warmed up first (one short run each: torch's first kernels, thread pool and page cache), then
  `--repeats` runs of each alternate (memory, store, store, memory, ...) so that neither side always
  runs first; the line gives the median ratio over the repeat pairs and its spread (min-max).
- `sae_train d_sae=N sparse vs dense`: our TopK training with sparse decode vs the dense path.
- `sae_train vs saelens`: ours vs SAELens' `SAETrainer` + `TopKTrainingSAE` (k=32, d_in=320,
  d_sae=10240, batch 4096, no activation normalisation, SAELens defaults otherwise) fed the same
  in-memory activations through a `data_provider` iterator; goal >= 2. Needs `pip install sae-lens`
  (the `bench` extra).

Each number is one run of `--steps` optimisation steps (wall clock of the whole training call,
setup included), after a warm-up run. Run: `python benchmarks/sae_train.py [--steps 60] [--repeats 5] [--threads N]`.
"""
from __future__ import annotations
import argparse, os, tempfile, time
from pathlib import Path
import numpy as np, torch
from plm_sae_nb.sae import SAEConfig
from plm_sae_nb.train import TensorSource, train_sae
from plm_sae_nb.store import ActivationStore


def make_store(x:torch.Tensor, tmp:Path):
    "An on-disk `extract.ActivationStore` (float16, as extract writes) holding the rows of `x`, as 256-residue 'proteins'."
    st = ActivationStore.create(tmp/'store', d_model=x.shape[1], dtype='float16', model='benchmark', layer=0)
    a = x.numpy()
    for i in range(0, len(a), 256):
        st.append(f'p{i}', a[i:i+256])
        if (i // 256) % 64 == 63: st.commit()
    st.commit(); st.write_config()
    return ActivationStore(tmp/'store'), 'extract.ActivationStore (float16 shards on disk)'


def tokens_per_s(cfg, src):
    t = time.perf_counter(); train_sae(cfg, src, progress=False)
    return cfg.n_steps * cfg.batch_size / (time.perf_counter() - t)


def warm_up(cfg, *srcs):
    "One short run per source, untimed: the first call pays for torch's kernels, allocator and thread pool."
    for src in srcs: train_sae(SAEConfig(**{**cfg.__dict__, 'steps': 3, 'log_every': 3}), src, progress=False)


def store_vs_memory(cfg, store, mem, repeats):
    "Alternating repeats (m, s, s, m, m, s, ...): per-pair ratios store/memory, their median and spread."
    ratios, tps = [], {'store': [], 'memory': []}
    for r in range(repeats):
        order = [('memory', mem), ('store', store)] if r % 2 == 0 else [('store', store), ('memory', mem)]
        got = {k: tokens_per_s(cfg, src) for k, src in order}
        for k in got: tps[k].append(got[k])
        ratios.append(got['store'] / got['memory'])
    return np.median(tps['store']), np.median(tps['memory']), np.array(ratios)


def saelens_tokens_per_s(x, k, d_sae, batch, steps):
    from sae_lens import SAETrainer, TopKTrainingSAE
    from sae_lens.saes.topk_sae import TopKTrainingSAEConfig
    from sae_lens.config import SAETrainerConfig
    cfg = TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=d_sae, k=k, normalize_activations='none', device='cpu', dtype='float32')
    sae = TopKTrainingSAE(cfg)
    g = torch.Generator().manual_seed(0)
    def provider():
        while True: yield x[torch.randint(len(x), (batch,), generator=g)]
    tcfg = SAETrainerConfig(total_training_samples=steps*batch, train_batch_size_samples=batch, lr=4e-4, lr_end=4e-4, device='cpu')
    t = time.perf_counter()
    SAETrainer(tcfg, sae, provider()).fit()
    return steps * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=60)
    ap.add_argument('--repeats', type=int, default=5, help='store vs memory: alternating repeats')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    ap.add_argument('--rows', type=int, default=131072)
    ap.add_argument('--skip', default='', help='comma list of: store,dsae,saelens')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    skip = set(a.skip.split(','))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, steps={a.steps}, batch 4096, d_in 320; load average {os.getloadavg()[0]:.2f} before the start")
    x = torch.randn(a.rows, 320, generator=torch.Generator().manual_seed(0)) * 0.5 + torch.randn(320, generator=torch.Generator().manual_seed(1))
    mem = TensorSource(x)
    base = dict(d_in=320, architecture='topk', k=32, batch_size=4096, steps=a.steps, lr=4e-4, log_every=a.steps)
    if 'store' not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            store, kind = make_store(x, Path(tmp))
            cfg = SAEConfig(d_sae=3200, **base)
            warm_up(cfg, mem, store)
            ours, ref, r = store_vs_memory(cfg, store, mem, a.repeats)
            print(f"# store: {kind}; {a.repeats} alternating repeats of {a.steps} steps, ratios {' '.join(f'{v:.3f}' for v in r)}")
            print(f"sae_train store vs memory: ours {ours:,.0f}, reference {ref:,.0f}, ratio {np.median(r):.2f} "
                  f"(median of {len(r)}; spread {r.min():.2f}-{r.max():.2f})")
    if 'dsae' not in skip:
        for d_sae in (1280, 3200, 10240):
            sp = tokens_per_s(SAEConfig(d_sae=d_sae, sparse_decode=True, **base), mem)
            de = tokens_per_s(SAEConfig(d_sae=d_sae, sparse_decode=False, **base), mem)
            print(f"sae_train d_sae={d_sae} sparse vs dense: ours {sp:,.0f}, reference {de:,.0f}, ratio {sp/de:.2f}")
    if 'saelens' not in skip:
        cfg = SAEConfig(d_sae=10240, normalize='none', **base); warm_up(cfg, mem)
        ours = tokens_per_s(cfg, mem)
        try: saelens_tokens_per_s(x, 32, 10240, 4096, 3); ref = saelens_tokens_per_s(x, 32, 10240, 4096, a.steps)  # warm-up, then timed
        except ImportError as e: print(f"# SAELens not installed ({e}); pip install sae-lens"); return
        print(f"sae_train vs saelens: ours {ours:,.0f}, reference {ref:,.0f}, ratio {ours/ref:.2f}")

if __name__ == '__main__': main()
