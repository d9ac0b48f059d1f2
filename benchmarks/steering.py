"""Steering benchmarks (random-init ESM-2 8M architecture, CPU unless CUDA is available).

- generate: residues generated per second by `generate` with batch_size=32 (ours) vs the same
  sampler one sequence at a time, batch_size=1 (reference); ratio = ours / reference (higher is better).
- per_step: residues per second with per_step=4 (ours) vs per_step=1 (reference), both batch_size=16.
- steer_forward: forward passes per second of a 16 x 102-token batch under `steer` (ours, 3,200-latent
  ReLU SAE at layer 4) vs the plain forward (reference); ratio = ours / reference (the hook's cost).
"""
import time, torch
from torch import nn
from types import SimpleNamespace
from plm_sae_nb.esm import random_esm
from plm_sae_nb.steering import generate, steer

class ReluSAE(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.cfg = SimpleNamespace(d_in=d, d_sae=m)
        self.W_enc = nn.Parameter(torch.randn(d, m) / d**0.5); self.W_dec = nn.Parameter(torch.randn(m, d) / d**0.5)
        self.b_enc = nn.Parameter(torch.zeros(m)); self.b_dec = nn.Parameter(torch.zeros(d))
    def encode(self, x): return torch.relu((x - self.b_dec) @ self.W_enc + self.b_enc)
    def decode(self, z): return z @ self.W_dec + self.b_dec

def timed(f, reps=1):
    f(); t = time.perf_counter()
    for _ in range(reps): f()
    return (time.perf_counter() - t) / reps

if __name__ == '__main__':
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if dev == 'cpu': torch.set_num_threads(1)
    model, alph = random_esm('esm2_t6_8M_UR50D'); model = model.to(dev)
    sae = ReluSAE(320, 3200).to(dev)
    n, L = (16, 30) if dev == 'cpu' else (256, 100)
    ours = n * L / timed(lambda: generate(model, alph, n, length=L, batch_size=n, progress=False))
    ref = n * L / timed(lambda: generate(model, alph, n, length=L, batch_size=1, progress=False))
    print(f'generate ({dev}, {n} x {L} residues): ours {ours:.0f} res/s, reference {ref:.0f} res/s, ratio {ours/ref:.2f}')
    ours = n * L / timed(lambda: generate(model, alph, n, length=L, batch_size=n, per_step=4, progress=False))
    ref = n * L / timed(lambda: generate(model, alph, n, length=L, batch_size=n, progress=False))
    print(f'per_step ({dev}, {n} x {L} residues): ours {ours:.0f} res/s, reference {ref:.0f} res/s, ratio {ours/ref:.2f}')
    toks = torch.full((16, 102), alph.mask_idx, device=dev); toks[:, 0] = alph.cls_idx; toks[:, -1] = alph.eos_idx
    with torch.no_grad():
        plain = 1 / timed(lambda: model(toks), reps=5)
        with steer(model, sae, 4, 123, 5.0): steered = 1 / timed(lambda: model(toks), reps=5)
    print(f'steer_forward ({dev}, 16 x 102 tokens): ours {steered:.1f} fwd/s, reference {plain:.1f} fwd/s, ratio {steered/plain:.2f}')
