"""TwoNN on 10,000 points × 320 dims (a 5-sphere, the ESM-2 8M width): wall seconds of one estimate,
`plm_sae_nb.twonn` (chunked float64 torch neighbour search, exact re-ranking) against
`skdim.id.TwoNN` (scikit-learn pairwise_distances_chunked + full row sort), same points, best of 2.
Also the estimates themselves, which must agree. Run: `python benchmarks/twonn.py` (threads: as set
by OMP_NUM_THREADS / torch defaults; say which when reporting)."""
import time, warnings
import numpy as np, torch
from plm_sae_nb.layers import twonn, manifold_sample, nn_distances

def best(f, k=2):
    ts = []
    for _ in range(k):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r

if __name__ == '__main__':
    import skdim
    x = manifold_sample(10_000, 5, 'sphere', ambient=320, seed=0)
    t_ours, d_ours = best(lambda: twonn(x, n_boot=0).d)
    t_ref, d_ref = best(lambda: skdim.id.TwoNN().fit(x).dimension_)
    print(f"twonn_10k_320 (s): ours {t_ours:.2f}, reference {t_ref:.2f}, ratio {t_ours/t_ref:.2f}")
    print(f"twonn_10k_320 estimate: ours {d_ours:.4f}, reference {d_ref:.4f}, ratio {d_ours/d_ref:.6f}")
    t_boot, _ = best(lambda: twonn(x, n_boot=200))
    print(f"twonn_10k_320 with 200 bootstrap replicates (s): ours {t_boot:.2f}, reference {t_ref:.2f} (no bootstrap), ratio {t_boot/t_ref:.2f}")
    print(f"torch threads: {torch.get_num_threads()}")
