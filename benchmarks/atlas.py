"""`atlas.build_atlas` at the paper's scale: 3,200 latents on 2,000 planted proteins (~600k residues), against
its budgets (build <= 3 minutes on 2 CPU cores, <= 60 MB on disk, index interactive in < 1 s).

The latents are synthetic: each residue fires ~`--l0` latents drawn from a Zipf-like frequency law (a few
frequent latents, a long tail, ~5% dead), and latents 1, 3, 5, 7 are planted on the four concepts. The
enrichment table is synthetic too (the right columns and size; the planted latents score F1 ~ 1). The decoder
is random (3,200 x 320). With selenium and chromium installed, the index and one latent page are also opened
in headless Chromium and the time until each page's script finished (`window.ATLAS_READY`, ms after
navigation start) is printed.

Run: `python benchmarks/atlas.py [--l0 32] [--proteins 2000] [--latents 3200] [--run RUN_DIR]`
(`--run` measures the atlas of an existing run directory instead, e.g. the demo's)."""
import argparse, os, resource, shutil, sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
import scipy.sparse as sp

def synthetic_run(n_proteins:int, d_sae:int, l0:int, seed:int=0):
    from plm_sae_nb.planted import planted_dataset
    from plm_sae_nb.results import Run, _feature_spans
    rng = np.random.default_rng(seed)
    prots = planted_dataset(n_proteins=n_proteins, seed=seed)
    n = sum(len(p) for p in prots)
    p = 1.0 / np.arange(1, d_sae + 1) ** 0.8; p[rng.choice(d_sae, d_sae // 20, replace=False)] = 0; p[[1, 3, 5, 7]] = 0
    p = p[rng.permutation(d_sae)]; p /= p.sum()
    cols = rng.choice(d_sae, size=(n, l0), p=p).astype(np.int32)
    X = sp.csr_matrix((rng.exponential(0.5, n * l0).astype(np.float32), cols.ravel(), np.arange(0, n * l0 + 1, l0)), shape=(n, d_sae))
    X.sum_duplicates()
    planted = {'carbohyd': 1, 'disulfid': 3, 'transmem': 5, 'zn_fing': 7}
    r, c, v, off = [], [], [], 0
    for q in prots:
        for s, e, lab in _feature_spans(q):
            if lab in planted: r.append(np.arange(off + s, off + e)); c.append(np.full(e - s, planted[lab])); v.append(rng.uniform(0.5, 3.0, e - s))
        off += len(q)
    X = (X + sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=X.shape)).tocsr()
    rows = []
    for l in range(d_sae):
        for conc, pl in planted.items():
            for thr in (0.01, 0.1, 1.0):
                P, R = (0.95, 0.9) if pl == l else rng.uniform(0, 0.3, 2)
                rows.append(dict(latent=l, concept=conc, threshold=thr, precision=P, recall=R, F1=2 * P * R / (P + R) if P + R else 0.0,
                                 q_value=1e-30 if pl == l else rng.uniform(0.001, 1), auroc=rng.uniform(0.4, 0.7)))
    return Run(prots, X, table=pd.DataFrame(rows)), rng.normal(size=(d_sae, 320)).astype(np.float32)

def browser_times(site:Path, latent:int):
    "ms until the index and one latent page are interactive in headless Chromium (None without selenium/chromium)."
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError: return None
    exe, drv = shutil.which('chromium'), shutil.which('chromedriver')
    if not (exe and drv): return None
    o = Options(); o.binary_location = exe
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1280,1000'): o.add_argument(a)
    d = webdriver.Chrome(service=Service(drv), options=o)
    try:
        out = {}
        for name, url in (('index', 'index.html'), ('index?q=zn_fing', 'index.html?q=zn_fing'), ('latent page', f'latent.html?l={latent}')):
            d.get((site/url.split('?')[0]).as_uri() + ('?' + url.split('?')[1] if '?' in url else ''))
            t = time.time()
            while not d.execute_script('return window.ATLAS_READY || null') and time.time() - t < 30: time.sleep(0.02)
            out[name] = d.execute_script('return window.ATLAS_READY || null')
        return out
    finally: d.quit()

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--proteins', type=int, default=2000); ap.add_argument('--latents', type=int, default=3200)
    ap.add_argument('--l0', type=int, default=32); ap.add_argument('--run', help='an existing run directory instead')
    a = ap.parse_args()
    from plm_sae_nb.atlas import build_atlas
    from plm_sae_nb.results import load_run
    t = time.perf_counter()
    if a.run: run, W, what = load_run(a.run), 'auto', a.run
    else:
        run, W = synthetic_run(a.proteins, a.latents, a.l0)
        what = f'synthetic: {a.latents:,} latents x {a.proteins:,} proteins, L0 {a.l0}'
    print(f"{what}: {run!r}, {run.latents.nnz:,} non-zeros; made in {time.perf_counter() - t:.1f} s")
    out = Path(tempfile.mkdtemp(prefix='plm_sae_atlas_bench_'))/'atlas'
    r0 = resource.getrusage(resource.RUSAGE_SELF); t = time.perf_counter()
    page = build_atlas(run, out, decoder=W, quiet=True)
    wall = time.perf_counter() - t; r1 = resource.getrusage(resource.RUSAGE_SELF)
    mb = sum(f.stat().st_size for f in out.rglob('*') if f.is_file()) / 1e6
    print(f"atlas build: {wall:.1f} s (cpu {r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime:.1f} s), {mb:.1f} MB, "
          f"{len(list((out/'data').glob('shard_*.js')))} shards, index.js {(out/'data'/'index.js').stat().st_size/1e6:.2f} MB; "
          f"budget 180 s, 60 MB; peak RSS {r1.ru_maxrss/1e6:.2f} GB")
    bt = browser_times(out, 7)
    if bt: print('atlas interactive (ms after navigation start, headless Chromium): ' + ', '.join(f'{k} {v:.0f}' for k, v in bt.items()) + '; budget 1000')
    else: print('atlas interactive: not measured (needs selenium, chromium and chromedriver)')
    print(f"load average: {os.getloadavg()}; site left in {out}")
