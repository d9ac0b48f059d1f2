"""Benchmark `plm_sae_nb.enrichment` (seconds, wall clock, one run each).

1. `enrichment vs loop`: 3,200 latents × 12 concepts × 3 absolute thresholds (0.01, 0.1, 1) on 200k residues
   (synthetic sparse latents, L0 ≈ 18) against a per-latent pandas loop in the style of the paper's code
   (counts, precision, recall, F1 only). The loop is timed on `--ref-latents` latents and scaled to 3,200
   (stated in the output). Ours also computes domain recall, Fisher p, BH q and AUROC.
2. `enrichment vs interplm`: the same latents max-normalised, 12 concepts with instance ids,
   5 relative thresholds (0, .15, .5, .6, .8): `enrichment(mode='interplm')` with its default columns
   (AUROC, Fisher p and BH q included) against InterPLM's own `calc_metrics_sparse` + `calculate_metrics`
   (after one untimed warm-up call of each), imported from a source checkout given by `--interplm PATH`
   or `$INTERPLM_PATH` (skipped if absent; never vendored). Modules that their metric code imports but
   never calls (h5py, tap, ...) are stubbed when missing. The numbers are checked to be equal.

Usage: python benchmarks/enrichment.py [--residues 200000] [--latents 3200] [--interplm PATH]
"""
import argparse, importlib, os, sys, time, tracemalloc, types
import numpy as np, pandas as pd
from scipy import sparse
from plm_sae_nb.enrich import enrichment, INTERPLM_AA_LEVEL

CONCEPTS = ['helix', 'strand', 'turn', 'intramem', 'disulfid', 'act_site', 'carbohyd', 'transmem', 'zn_fing',
            'topo_dom', 'region', 'binding']

def synthetic(n=200_000, m=3200, l0=18, seed=0):
    "Sparse latents (n, m) with L0 ≈ `l0`, 12 instance-id concepts, and latent j < 12 planted on concept j."
    rng = np.random.default_rng(seed)
    nnz = rng.poisson(l0, n); rows = np.repeat(np.arange(n), nnz)
    cols = rng.integers(0, m, len(rows)); vals = rng.exponential(1.0, len(rows)).astype(np.float32)
    labels = {}
    for j, c in enumerate(CONCEPTS):
        ids = np.zeros(n, np.int32); aa = any(a in c for a in INTERPLM_AA_LEVEL)
        starts = np.sort(rng.choice(n - 50, 400 if aa else 600, replace=False))
        lens = np.ones(len(starts), int) if aa else rng.integers(5, 40, len(starts))
        for k, (s, l) in enumerate(zip(starts, lens)): ids[s:s + l] = k + 1
        labels[c] = ids
        on = np.flatnonzero(ids); on = on[rng.random(len(on)) < 0.7]     # planted latent j fires on 70% of concept j
        rows = np.r_[rows, on]; cols = np.r_[cols, np.full(len(on), j)]; vals = np.r_[vals, rng.uniform(1, 3, len(on)).astype(np.float32)]
    X = sparse.coo_matrix((vals, (rows, cols)), shape=(n, m)).tocsr(); X.sum_duplicates()
    return X, pd.DataFrame(labels)

def paper_loop(X, labels, thresholds, latents):
    "Per-latent pandas loop in the style of the paper's analysis script: counts, P, R, F1 per latent × concept × threshold."
    out = []
    for j in latents:
        s = pd.Series(X[:, j].toarray().ravel())
        for c in labels.columns:
            y = labels[c] != 0
            for t in thresholds:
                a = s > t; tp = int((a & y).sum()); fp = int((a & ~y).sum()); fn = int((~a & y).sum())
                p = tp / (tp + fp) if tp + fp else 0.0; r = tp / (tp + fn) if tp + fn else 0.0
                out.append((j, c, t, tp, fp, fn, p, r, 2 * p * r / (p + r) if p + r else 0.0))
    return pd.DataFrame(out, columns=['latent', 'concept', 'threshold', 'TP', 'FP', 'FN', 'precision', 'recall', 'F1'])

def load_interplm(path):
    "InterPLM's `calc_metrics_sparse`, `calculate_metrics` from a checkout, stubbing modules they import but never use."
    sys.path.insert(0, str(path)); stubbed = []
    for _ in range(50):
        try:
            ca = importlib.import_module('interplm.analysis.concepts.compare_activations')
            cf = importlib.import_module('interplm.analysis.concepts.calculate_f1')
            return ca.calc_metrics_sparse, cf.calculate_metrics, stubbed
        except ModuleNotFoundError as e:
            if e.name is None or e.name.startswith('interplm'): raise
            mod = types.ModuleType(e.name); mod.__path__ = []
            def _ga(attr):
                if attr.startswith('__'): raise AttributeError(attr)
                return type(attr, (), {})
            mod.__getattr__ = _ga; sys.modules[e.name] = mod; stubbed.append(e.name)
            for k in [k for k in sys.modules if k.startswith('interplm')]: del sys.modules[k]
    raise ImportError(f'could not import InterPLM from {path}')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--residues', type=int, default=200_000); ap.add_argument('--latents', type=int, default=3200)
    ap.add_argument('--ref-latents', type=int, default=64); ap.add_argument('--interplm', default=os.environ.get('INTERPLM_PATH'))
    ap.add_argument('--profile', action='store_true', help='print the top of a cProfile of our interplm call')
    a = ap.parse_args(argv)
    X, labels = synthetic(a.residues, a.latents)
    n, m = X.shape
    print(f'data: {n:,} residues × {m:,} latents (L0 {X.nnz / n:.1f}), {labels.shape[1]} concepts')
    thr = (0.01, 0.1, 1.0)
    tracemalloc.start(); t0, c0 = time.perf_counter(), time.process_time()
    ours = enrichment(X, labels, thresholds=thr)
    t_ours, c_ours = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    sub = np.linspace(0, m - 1, a.ref_latents).astype(int)
    t0, c0 = time.perf_counter(), time.process_time(); ref = paper_loop(X, labels, thr, sub)
    t_sub, c_sub = time.perf_counter() - t0, time.process_time() - c0
    t_ref = t_sub * m / len(sub)
    o = ours[ours.latent.isin(sub)].reset_index(drop=True)
    for col in ['TP', 'FP', 'FN', 'precision', 'recall', 'F1']:
        assert np.allclose(o[col].to_numpy(float), ref[col].to_numpy(float)), col
    print(f'enrichment vs loop: ours {t_ours:.2f} s, reference {t_ref:.1f} s, ratio {t_ref / t_ours:.0f}x '
          f'(pandas loop: {t_sub:.2f} s on {len(sub)} latents, scaled ×{m / len(sub):.0f}; numbers equal on those latents)')
    print(f'enrichment vs loop (CPU seconds): ours {c_ours:.2f}, reference {c_sub * m / len(sub):.1f}, ratio {c_sub * m / len(sub) / c_ours:.0f}x')
    print(f'enrichment peak memory (tracemalloc, inside the call): {peak / 2**20:.0f} MiB '
          f'for {len(ours):,} rows; latents {(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20:.0f} MiB')
    if not a.interplm:
        print('enrichment interplm vs InterPLM: skipped (pass --interplm PATH or set INTERPLM_PATH to an InterPLM checkout)'); return
    calc_metrics_sparse, calculate_metrics, stubbed = load_interplm(a.interplm)
    ithr = [0, 0.15, 0.5, 0.6, 0.8]; names = list(labels.columns)
    is_aa = [any(x in c for x in INTERPLM_AA_LEVEL) for c in names]
    mx = np.maximum(X.max(axis=0).toarray().ravel(), 0).astype(np.float32)
    Lab = sparse.csr_matrix(labels.to_numpy())
    pos = (labels != 0).sum().to_numpy(); pos_dom = np.array([labels[c][labels[c] != 0].nunique() for c in names])
    def theirs_run():
        Xn = X.multiply(1 / np.where(mx > 0, mx, 1)).tocsr().astype(np.float32)  # max-normalised before their metric code, as at their HEAD
        tp, fp, tpd = calc_metrics_sparse(Xn, Lab, ithr, is_aa)
        return calculate_metrics(tp, fp, tpd, pos, pos_dom, names, ithr, is_aa)
    def timed(f):
        t0, c0 = time.perf_counter(), time.process_time(); out = f()
        return out, time.perf_counter() - t0, time.process_time() - c0
    ours_run = lambda **kw: enrichment(X, labels, thresholds=ithr, mode='interplm', min_tp=1, **kw)
    ours_run(); theirs_run()                                   # warm-up, untimed: imports, allocator, caches on both sides
    ours, t_ours, c_ours = timed(ours_run)                     # the default: every column (P/R/F1, domain, Fisher p, BH q, AUROC)
    _, t_na, c_na = timed(lambda: ours_run(auroc=False))
    theirs, t_ref, c_ref = timed(theirs_run)
    mg = theirs.merge(ours, left_on=['feature', 'concept', 'threshold_pct'], right_on=['latent', 'concept', 'threshold'],
                       how='outer', indicator=True, suffixes=('_theirs', ''))
    assert (mg._merge == 'both').all(), mg._merge.value_counts()
    for a_, b_ in [('tp', 'TP'), ('fp', 'FP'), ('precision_theirs', 'precision'), ('recall_theirs', 'recall'), ('f1', 'F1'),
                   ('recall_per_domain', 'domain_recall'), ('f1_per_domain', 'domain_F1')]:
        assert np.allclose(mg[a_].to_numpy(float), mg[b_].to_numpy(float), rtol=1e-6, atol=1e-12), a_
    print(f'enrichment vs interplm: ours {t_ours:.2f} s, reference {t_ref:.2f} s, ratio {t_ref / t_ours:.1f}x '
          f'(default arguments: every column incl. AUROC, Fisher p, BH q; same numbers: {len(mg):,} rows, all equal; theirs: '
          f'max-normalisation + calc_metrics_sparse + calculate_metrics; both warmed up; stubbed imports: {", ".join(stubbed) or "none"})')
    print(f'enrichment vs interplm (CPU seconds): ours {c_ours:.2f}, reference {c_ref:.2f}, ratio {c_ref / c_ours:.1f}x')
    print(f'enrichment vs interplm, auroc=False: ours {t_na:.2f} s, reference {t_ref:.2f} s, ratio {t_ref / t_na:.1f}x (CPU ratio {c_ref / c_na:.1f}x)')
    if a.profile:
        import cProfile, pstats, io
        pr = cProfile.Profile(); pr.enable(); ours_run(); pr.disable()
        buf = io.StringIO(); pstats.Stats(pr, stream=buf).sort_stats('tottime').print_stats(12); print(buf.getvalue())

if __name__ == '__main__': main()
