"""Benchmarks of `planted_dataset` and `label_matrix` (seconds, best of 3, one process).

- planted_dataset_1000: `planted_dataset(1000)`; reference = a 1.0 s budget.
- label_matrix_5000: `label_matrix` of 5,000 planted proteins (~1.5 M residues, 4 concepts, bool);
  reference = a straightforward per-feature loop filling one Python list per concept, then a DataFrame.
- label_matrix_instances_5000: the same with `instances=True`; same reference (it fills ids).
"""
import time
import numpy as np, pandas as pd
from plm_sae_nb.planted import planted_dataset
from plm_sae_nb.core import residue_index
from plm_sae_nb.uniprot import label_matrix

def best(fn, n=3):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)

def naive_labels(proteins, concepts):
    cols = {c: [] for c in concepts}; k = {c: 0 for c in concepts}
    for p in proteins:
        for c in concepts:
            lab = [0] * len(p.sequence); bonds = {}
            for f in sorted((f for f in p.meta['features'] if f.type.lower() == c), key=lambda f: (f.start, f.end)):
                if f.bond is None: k[c] += 1; v = k[c]
                else:
                    if f.bond not in bonds: k[c] += 1; bonds[f.bond] = k[c]
                    v = bonds[f.bond]
                for i in range(f.start, f.end): lab[i] = v
            cols[c] += lab
    return pd.DataFrame({c: np.array(v, np.int32) for c, v in cols.items()}, index=residue_index(proteins))

def line(name, ours, ref): print(f'{name}: ours {ours:.3f}, reference {ref:.3f}, ratio {ours / ref:.2f}')

if __name__ == '__main__':
    planted_dataset(10)
    line('planted_dataset_1000', best(lambda: planted_dataset(1000, seed=0)), 1.0)
    ds = planted_dataset(5000, seed=1); cs = ['carbohyd', 'disulfid', 'transmem', 'zn_fing']
    ref_t = best(lambda: naive_labels(ds, cs), 1)
    assert (naive_labels(ds, cs).to_numpy() == label_matrix(ds, cs, instances=True).to_numpy()).all()
    line('label_matrix_5000', best(lambda: label_matrix(ds, cs)), ref_t)
    line('label_matrix_instances_5000', best(lambda: label_matrix(ds, cs, instances=True)), ref_t)
