"""Fused attention (`sdpa_attention`) against fair-esm's own, on the library's model-running loops.

Each line times the same call with fair-esm's attention (reference) and inside the library's loops as
they run now (ours: `sdpa_attention`); ratio = reference seconds / ours (higher is better). The
reference is made by switching the library's `sdpa_attention` off where the loop imports it. CPU, one
thread unless CUDA is available; repeats alternate, the median ratio is printed.

- masked_predictions: `grammar_scores` of the shipped organism on 60 held-out planted proteins.
- logits_8M: one forward of the random-init ESM-2 8M architecture, 8 proteins of 500 residues.
- spliced_metrics_8M: `spliced_metrics` of a random 3,200-latent SAE spliced at layer 4 of that model, 8 proteins of 300.
- generate: `generate` from the organism, 32 sequences of 60 residues (short sequences: the linear layers dominate).
"""
import contextlib, statistics, time, torch
import plm_sae_nb.planted as planted_mod, plm_sae_nb.train as train_mod, plm_sae_nb.steering as steering_mod
from plm_sae_nb.esm import random_esm, load_esm
from plm_sae_nb.planted import planted_dataset, grammar_scores
from plm_sae_nb.sae import SAE, SAEConfig
from plm_sae_nb.train import spliced_metrics
from plm_sae_nb.steering import generate

MODS = (planted_mod, train_mod, steering_mod)

@contextlib.contextmanager
def fair_attention():
    "The library's loops with fair-esm's attention: their `sdpa_attention` replaced by a no-op."
    saved = [m.sdpa_attention for m in MODS]
    for m in MODS: m.sdpa_attention = lambda model: contextlib.nullcontext(model)
    try: yield
    finally:
        for m, f in zip(MODS, saved): m.sdpa_attention = f

def compare(name, f, reps=3):
    ratios, t_ref, t_ours = [], [], []
    f()
    for _ in range(reps):
        with fair_attention():
            t = time.perf_counter(); f(); t_ref.append(time.perf_counter() - t)
        t = time.perf_counter(); f(); t_ours.append(time.perf_counter() - t)
        ratios.append(t_ref[-1] / t_ours[-1])
    print(f'{name}: reference {statistics.median(t_ref):.2f} s, ours {statistics.median(t_ours):.2f} s, ratio {statistics.median(ratios):.2f}', flush=True)

if __name__ == '__main__':
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if dev == 'cpu': torch.set_num_threads(1)
    org, oa = load_esm('esm2_planted'); org = org.to(dev)
    held = planted_dataset(60, seed=123_456, zf_style='consensus')
    compare('masked_predictions (organism, 60 proteins)', lambda: grammar_scores(org, oa, held))
    m8, a8 = random_esm('esm2_t6_8M_UR50D', seed=0); m8 = m8.to(dev)
    g = torch.Generator().manual_seed(0)
    aa = torch.tensor([a8.get_idx(c) for c in 'ACDEFGHIKLMNPQRSTVWY'])
    toks = torch.cat([torch.full((8, 1), a8.cls_idx), aa[torch.randint(20, (8, 500), generator=g)], torch.full((8, 1), a8.eos_idx)], 1).to(dev)
    def logits():
        with torch.no_grad(), train_mod.sdpa_attention(m8): return m8(toks)['logits']
    compare('logits_8M (8 x 500 residues)', logits)
    sae = SAE(SAEConfig(d_in=320, expansion=10, steps=1)).to(dev)
    prots = [(f'p{i}', ''.join('ACDEFGHIKLMNPQRSTVWY'[j] for j in torch.randint(20, (300,), generator=g).tolist())) for i in range(8)]
    compare('spliced_metrics_8M (8 x 300 residues)', lambda: spliced_metrics(m8, a8, sae, 4, prots))
    compare('generate (organism, 32 x 60 residues)', lambda: generate(org, oa, 32, length=60, progress=False), reps=2)
