"""Steering the shipped model organism toward zinc fingers: samplers and clamps, 100 sequences per arm.

The shipped `esm2_planted` and its SAE `esm2_planted_l4`; the zinc-finger latent is the one with
the best F1 against the planted `zn_fing` labels on 300 new planted proteins, and the clamp is a
multiple of its largest activation there. Each line: steered and unsteered arms from the same
sampler (same template, order and Gibbs settings; seeds 0 and 1), PS00028 hits with Wilson 95%
intervals, the ratio of the rates and the two-sided Fisher p. The issue's target is a steered rate
>= 25%, >= 4x the baseline, p < 1e-6.

`positions='masked'` writes the latent only where the model is being asked to write (the `<mask>`
tokens of each pass); the residues already placed read the unedited stream.

`--layer 5` steers with `esm2_planted_l5` instead, the SAE on the layer the organism's ID profile picks,
whose zinc-finger latent is a clean finger detector. `LINKERS` is a template with two `TGEKP` linkers
of a finger array, 26 positions apart, and everything else to generate: it says where a finger could go,
not what it is. `ARRAY` places three, leaving two slots of 25 (the spacing of the organism's arrays).
`SLOT` clamps only the 26 positions between `LINKERS`' two linkers, where a finger would go.

    python benchmarks/steer_organism.py [--n 100] [--threads 2] [--layer 4|5] [--only SUBSTRING] [--seed 0]
    python benchmarks/steer_organism.py --layer 5 --only 'slot only' --sweep 0.5,1,2,3 --plot sweep.png   # one setting's strength sweep
"""
import argparse, tempfile, time
from pathlib import Path
import torch
from plm_sae_nb import (load_esm, load_sae, planted_dataset, label_matrix, extract, latent_activations, enrichment,
                        best_latent_for, latent_max, steering_trial, steering_sweep, plot_sweep, PS00028)

SEED_C = '_' * 15 + 'C' + '_' * 44   # one cysteine placed, 59 positions to generate
LINKERS = '_' * 8 + 'TGEKP' + '_' * 26 + 'TGEKP' + '_' * 8   # two linkers of a finger array placed, 42 positions to generate
SLOT = list(range(LINKERS.index('TGEKP') + 5, LINKERS.rindex('TGEKP')))   # the 26 positions between LINKERS' linkers (13..38): where a finger would go
ARRAY = '_' * 8 + ('TGEKP' + '_' * 25) * 2 + 'TGEKP' + '_' * 8   # three linkers, two finger slots 25 apart as in the organism's arrays; 66 to generate
SETTINGS = [  # name, clamp (x max), generate arguments
    ('all-mask 40, no Gibbs (the notebooks)', 2, dict(length=40)),
    ('all-mask 60, Gibbs 4 rounds, blocks of 2', 2, dict(length=60, gibbs_rounds=4, gibbs_block=2, per_step=4)),
    ('one C placed, 60, Gibbs 4, blocks of 2', 2, dict(template=SEED_C, gibbs_rounds=4, gibbs_block=2, per_step=4)),
    ('one C placed, 60, Gibbs 4, one at a time', 2, dict(template=SEED_C, gibbs_rounds=4, per_step=4)),
    ('all-mask 60, Gibbs 4, blocks of 2, clamp on the masked tokens only', 1, dict(length=60, gibbs_rounds=4, gibbs_block=2, per_step=4, positions='masked')),
    ('all-mask 60, Gibbs 4, blocks of 2, clamp on the masked tokens only', 2, dict(length=60, gibbs_rounds=4, gibbs_block=2, per_step=4, positions='masked')),
    ('two linkers placed, 52, Gibbs 8, blocks of 2', 2, dict(template=LINKERS, gibbs_rounds=8, gibbs_block=2, per_step=4)),
    ('three linkers placed (two finger slots), 81, Gibbs 8, blocks of 2', 2, dict(template=ARRAY, gibbs_rounds=8, gibbs_block=2, per_step=4)),
    ('two linkers placed, 52, Gibbs 32, blocks of 2, clamp on the slot only', 2, dict(template=LINKERS, gibbs_rounds=32, gibbs_block=2, per_step=4, positions=SLOT)),
]

def _ratio(steered, baseline): return steered / baseline if baseline else (float('inf') if steered else float('nan'))
def _arm(r, k): return f"{r['hits_' + k]}/{r['n_' + k]} ({r['ci_low_' + k]:.0%}–{r['ci_high_' + k]:.0%})"   # hits/n (Wilson 95%)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--n', type=int, default=100); ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--layer', type=int, default=4, choices=(4, 5)); ap.add_argument('--only', default='', help='run the settings whose name holds this')
    ap.add_argument('--seed', type=int, default=0, help='steered arms use this seed, the baseline seed + 1')
    ap.add_argument('--sweep', default='', help='comma-separated clamp factors (x max): a strength sweep of the one selected setting')
    ap.add_argument('--plot', default='', help='with --sweep: save the sweep plot here (PNG)')
    a = ap.parse_args(); torch.set_num_threads(a.threads)
    chosen = [st for st in SETTINGS if a.only in st[0]]
    if a.sweep and len(chosen) != 1: ap.error(f"--sweep needs --only to pick exactly one setting; {a.only!r} picks {len(chosen)}: {[st[0] for st in chosen]}")
    model, alphabet = load_esm('esm2_planted'); sae = load_sae(f'esm2_planted_l{a.layer}')
    prots = planted_dataset(300, seed=0, max_len=300, zf_style='consensus')
    store = extract(model, alphabet, prots, a.layer, Path(tempfile.mkdtemp())/'acts', progress=False)
    table = enrichment(latent_activations(sae, store, progress=False), label_matrix(prots).reindex(store.row_index()), thresholds=(0.01, 0.1, 1.0))
    zf = int(best_latent_for(table, 'zn_fing')['latent']); mx = latent_max(sae, store, zf)
    print(f'layer {a.layer}: zinc-finger latent {zf}, max activation {mx:.2f}; {a.n} sequences per arm, {a.threads} threads')
    if a.sweep:   # one setting's strength sweep against one shared baseline
        (name, _, kw), = chosen
        factors = [float(f) for f in a.sweep.split(',')]; t0 = time.perf_counter()
        df = steering_sweep(model, alphabet, sae, a.layer, zf, [f * mx for f in factors], success=PS00028, n=a.n, seed=a.seed, progress=False, **kw)
        print(f'{name}: strength sweep, {time.perf_counter() - t0:.0f} s\n| clamp | steered | baseline | ratio | Fisher p |\n|---|---|---|---|---|')
        for f, (_, r) in zip(factors, df.iterrows()):
            print(f"| {f}× | {_arm(r, 'steered')} | {_arm(r, 'baseline')} | {_ratio(r.rate_steered, r.rate_baseline):.1f} | {r.p_value:.2g} |")
        if a.plot:
            fig = plot_sweep(df.assign(value=factors), title=f'layer-{a.layer} zinc-finger latent {zf} clamped between the linkers', xlabel='clamp (× its largest activation)')
            fig.savefig(a.plot, dpi=120, bbox_inches='tight'); print('saved', a.plot)
    else:
        print('| sampler | clamp | steered | baseline | ratio | Fisher p | seconds |\n|---|---|---|---|---|---|---|')
        for name, f, kw in chosen:
            t0 = time.perf_counter()
            r = steering_trial(model, alphabet, sae, a.layer, zf, f * mx, success=PS00028, n=a.n, seed=a.seed, progress=False, **kw)
            print(f"| {name} | {f}× | {_arm(r, 'steered')} | {_arm(r, 'baseline')} | {_ratio(r['rate_steered'], r['rate_baseline']):.1f} | "
                  f"{r['p_value']:.2g} | {time.perf_counter() - t0:.0f} |", flush=True)
