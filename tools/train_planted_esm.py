#!/usr/bin/env python
"""Train `esm2_planted`: a fair-esm ESM-2 (6 layers) that learns the planted grammar by masked-LM.

The model organism of plm-sae-nb: a protein language model that has learned something we know
exactly (the motifs of `planted_dataset`), so the whole method (extraction, SAE, enrichment,
steering) can be tested against ground truth offline. Writes, into `--out`:

- `esm2_planted.safetensors`: the weights (fp16 by default), fair-esm `ESM2` names;
- `esm2_planted.json`: the card (architecture, data, seed, steps, loss curve, held-out scores, commit);
- `esm2_planted_loss.png`: the loss curve (next to the card; not shipped in the package).

Deterministic from `--seed` at a fixed `--threads`. Run from the repository root:

    python tools/train_planted_esm.py --out plm_sae_nb/weights

`--sdpa` trains with fair-esm's attention computed by torch's `scaled_dot_product_attention`
(`plm_sae_nb.sdpa_attention`): the same function (`03_esm` checks logits and gradients to 1e-4), about
twice as fast on CPU, but not bit-identical: the shipped weights were trained with it, and the card's
`stages[].command` (each with `--sdpa`) reproduce them.
"""
from __future__ import annotations
import argparse, contextlib, hashlib, json, math, subprocess, sys, time
from pathlib import Path
import numpy as np

def corpus_chunk(k:int, seed:int, n:int, p:float, concs:list[float], lowc:float=0.3, zf_style:str='prosite', backgrounds=('swissprot', 'varied')):
    "Chunk `k` of the training stream: n planted proteins shared equally by `backgrounds` (Swiss-Prot composition; varied: Dirichlet concentration `concs[k % len]`, low-complexity share `lowc`), seeds never used for evaluation."
    from plm_sae_nb.planted import planted_dataset
    kw = dict(p_zf=p, p_tm=p, p_glyco=p, p_disulfide=p, background_lowc=lowc, zf_style=zf_style)
    return [q.sequence for bg in backgrounds
            for q in planted_dataset(n // len(backgrounds), seed=10_000 * (seed + 1) + 2 * k + (bg == 'varied'), background=bg, prefix=f'tr{k}{bg[0]}',
                                     background_conc=concs[k % len(concs)], **kw)]

def batches(seqs:list[str], tokens_per_batch:int, rng):
    "Length-bucketed batches: sort by length, cut so that batch size × (longest + 2) ≤ `tokens_per_batch`, shuffle the batches."
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), i)); out, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * (len(seqs[i]) + 2) > tokens_per_batch: out.append(cur); cur = []
        cur.append(i)
    if cur: out.append(cur)
    return [[seqs[i] for i in out[j]] for j in rng.permutation(len(out))]

def mlm_mask(tokens, alphabet, gen, p:float=0.15):
    "BERT/ESM-2 masking: choose `p` of the residues; of those 80% → <mask>, 10% → a random residue, 10% kept. (inputs, targets with -100 elsewhere)."
    import torch
    special = torch.tensor([alphabet.cls_idx, alphabet.eos_idx, alphabet.padding_idx])
    real = ~torch.isin(tokens, special)
    chosen = (torch.rand(tokens.shape, generator=gen) < p) & real
    u = torch.rand(tokens.shape, generator=gen)
    from plm_sae_nb.core import STANDARD_AA
    aa = torch.tensor([alphabet.get_idx(a) for a in STANDARD_AA])
    inputs = tokens.clone()
    inputs[chosen & (u < 0.8)] = alphabet.mask_idx
    rnd = chosen & (u >= 0.8) & (u < 0.9)
    inputs[rnd] = aa[torch.randint(len(aa), (int(rnd.sum()),), generator=gen)]
    return inputs, torch.where(chosen, tokens, torch.full_like(tokens, -100))

def mlm_loss(logits, targets):
    "Cross-entropy over the masked positions (targets -100 elsewhere)."
    import torch
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)

@contextlib.contextmanager
def skipped(model, layer:int=0):
    "Run `model` without block `layer` (1-based; 0: all blocks): stochastic depth for one step. Always restores the blocks."
    if not layer: yield model; return
    blocks = model.layers
    model.layers = type(blocks)([b for i, b in enumerate(blocks) if i != layer - 1])
    try: yield model
    finally: model.layers = blocks

def lr_at(step:int, steps:int, lr:float, warmup:int, floor:float=0.1)->float:
    "Linear warm-up, then cosine decay to `floor` × lr."
    if step < warmup: return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))

def git_commit()->str:
    try: return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True, check=True).stdout.strip()
    except Exception: return 'unknown'

def new_model(a):
    "A fair-esm ESM2 of the command line's architecture (random init from torch's generator) and its alphabet."
    import esm
    alphabet = esm.data.Alphabet.from_architecture('ESM-1b')
    return esm.model.esm2.ESM2(num_layers=a.layers, embed_dim=a.embed_dim, attention_heads=a.heads, alphabet=alphabet, token_dropout=True), alphabet

def train(a):
    "Masked-LM training of a fresh fair-esm ESM-2 (or `--init`'s weights): (model, alphabet, info)."
    import torch
    from plm_sae_nb.esm import sdpa_attention
    torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
    model, alphabet = new_model(a)
    with sdpa_attention(model) if a.sdpa else contextlib.nullcontext(): return _train(a, model, alphabet)

def _train(a, model, alphabet):
    import torch
    from tqdm.auto import tqdm
    bc = alphabet.get_batch_converter()
    if a.init: model.load_state_dict(init_state(a.init))   # a later stage continues an earlier one
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2 and 'embed' not in n]
    rest = [p_ for n, p_ in model.named_parameters() if not (p_.dim() >= 2 and 'embed' not in n)]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=a.weight_decay), dict(params=rest, weight_decay=0.)], lr=a.lr, betas=(0.9, 0.98), eps=1e-8)
    gen, rng = torch.Generator().manual_seed(a.seed), np.random.default_rng(a.seed)
    skip_rng = np.random.default_rng([a.seed, 7])   # its own stream: skipping never changes the batches or the masks
    curve, step, chunk, tokens_seen, t0 = [], 0, a.first_chunk, 0, time.time()
    run, run_exit, n_run = 0., 0., 0
    bar = tqdm(total=a.steps, desc='MLM', mininterval=5)
    model.train()
    while step < a.steps:
        for seqs in batches(corpus_chunk(chunk, a.seed, a.chunk, a.p_motif, a.conc, a.lowc, a.zf_style, a.backgrounds), a.tokens_per_batch, rng):
            if step >= a.steps: break
            _, _, tokens = bc([('', s) for s in seqs])
            inputs, targets = mlm_mask(tokens, alphabet, gen)
            with skipped(model, a.skip_layer if a.skip_layer and skip_rng.random() < a.skip_p else 0):
                out = model(inputs, repr_layers=[a.exit_layer] if a.exit_layer else [])
            loss = mlm_loss(out['logits'], targets)
            if a.exit_layer:   # early exit: layer `exit_layer`'s state, read by the same final norm and LM head, must predict the masked residues too
                exit_loss = mlm_loss(model.lm_head(model.emb_layer_norm_after(out['representations'][a.exit_layer])), targets)
                run_exit += exit_loss.item(); loss_all = loss + a.exit_weight * exit_loss
            else: loss_all = loss
            for g in opt.param_groups: g['lr'] = lr_at(step, a.steps, a.lr, a.warmup)
            opt.zero_grad(set_to_none=True); loss_all.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
            step += 1; tokens_seen += sum(map(len, seqs)); run += loss.item(); n_run += 1
            if step % a.log_every == 0 or step == a.steps:
                curve.append(dict(step=step, loss=round(run / n_run, 4), tokens=tokens_seen, seconds=round(time.time() - t0, 1))
                             | (dict(exit_loss=round(run_exit / n_run, 4)) if a.exit_layer else {})); run, run_exit, n_run = 0., 0., 0
                bar.set_postfix(loss=curve[-1]['loss'], tok_s=int(tokens_seen / (time.time() - t0)), refresh=False)
            bar.update(1)
        chunk += 1
    bar.close()
    return model.eval(), alphabet, dict(curve=curve, tokens=tokens_seen, chunks=chunk - a.first_chunk, first_chunk=a.first_chunk, seconds=round(time.time() - t0, 1),
                                        steps=a.steps, lr=a.lr, warmup=a.warmup, conc=a.conc, lowc=a.lowc, backgrounds=a.backgrounds, init=a.init or None,
                                        init_sha256=hashlib.sha256(Path(a.init).read_bytes()).hexdigest() if a.init else None,
                                        attention='sdpa' if a.sdpa else 'fair-esm', exit_layer=a.exit_layer or None, exit_weight=a.exit_weight if a.exit_layer else None,
                                        skip_layer=a.skip_layer or None, skip_p=a.skip_p if a.skip_layer else None,
                                        command=a.command)

def evaluate(model, alphabet, seed:int=123_456, zf_style:str='prosite'):
    "Held-out scores (`grammar_scores`) on planted proteins of a seed never used in training, and on foreign backgrounds."
    from plm_sae_nb.planted import planted_dataset, grammar_scores, foreign_fingers
    held = planted_dataset(300, seed=seed, p_zf=0.4, p_tm=0.4, p_glyco=0.4, p_disulfide=0.4, zf_style=zf_style)
    out = {'planted(300, seed=%d)' % seed: grammar_scores(model, alphabet, held)}
    for kind in ('biased', 'low_complexity', 'markov'):
        out[f'foreign {kind}'] = grammar_scores(model, alphabet, foreign_fingers(100, kind=kind, seed=seed, zf_style=zf_style))
    return out

def init_state(path:str)->dict:
    "fp32 weights to continue from: an fp32 checkpoint (`--checkpoint` of an earlier stage) or shipped safetensors (fp16, cast up)."
    import torch
    if not path.endswith('.safetensors'): return torch.load(path, weights_only=True)
    from safetensors.torch import load_file
    return {k: v.float() for k, v in load_file(path).items()}

def prev_stages(path:str)->list[dict]:
    "Stages behind `--init`: a checkpoint's .info.json, or a shipped card (its merged loss curve split back into each stage's own)."
    if not path.endswith('.safetensors'):
        prev = json.loads(Path(path + '.info.json').read_text()); return prev.get('stages', [prev])
    card, out, s0, t0, sec0 = json.loads(Path(path[:-len('.safetensors')] + '.json').read_text()), [], 0, 0, 0.
    for st in card['stages']:
        rows = [r for r in card['loss_curve'] if s0 < r['step'] <= s0 + st['steps']]
        out.append(dict(st, curve=[dict(r, step=r['step'] - s0, tokens=r['tokens'] - t0, seconds=round(r['seconds'] - sec0, 1)) for r in rows]))
        s0 += st['steps']; t0 += st['tokens']; sec0 += st['seconds']
    return out

def stages_of(a, info)->list[dict]:
    "The training stages behind the model: those behind `--init` (recursively recorded) and this one."
    return (prev_stages(a.init) if a.init else []) + [{k: v for k, v in info.items() if k != 'stages'}]

def merged(stages:list[dict])->dict:
    "Totals over stages: steps, tokens, seconds, one loss curve with cumulative steps/tokens/seconds."
    curve, s0, t0, sec0 = [], 0, 0, 0.
    for st in stages:
        curve += [dict(r, step=r['step'] + s0, tokens=r['tokens'] + t0, seconds=round(r['seconds'] + sec0, 1)) for r in st['curve']]
        s0 += st['curve'][-1]['step']; t0 += st['tokens']; sec0 += st['seconds']
    return dict(steps=s0, tokens=t0, seconds=round(sec0, 1), curve=curve)

def save(model, a, info, scores):
    import torch
    from safetensors.torch import save_file
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dt = torch.float16 if a.dtype == 'float16' else torch.float32
    stages = stages_of(a, info); tot = merged(stages)
    sd = {k: v.detach().to(dt).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(out / 'esm2_planted.safetensors.tmp'), metadata={'format': 'pt'})
    (out / 'esm2_planted.safetensors.tmp').replace(out / 'esm2_planted.safetensors')
    card = dict(name='esm2_planted', architecture=dict(num_layers=a.layers, embed_dim=a.embed_dim, attention_heads=a.heads, token_dropout=True,
                                                       alphabet='ESM-1b', parameters=sum(p.numel() for p in model.parameters()), dtype=a.dtype),
                training_data=dict(generator='plm_sae_nb.planted.planted_dataset', proteins_per_chunk=a.chunk,
                                   backgrounds='per stage, below', p_zf=a.p_motif, p_tm=a.p_motif, p_glyco=a.p_motif, p_disulfide=a.p_motif, zf_style=a.zf_style, background_lowc=a.lowc,
                                   seeds='10000*(seed+1) + 2*chunk + (background == varied)', chunks_and_concentrations='per stage, below'),
                objective=dict(masked_lm=0.15, mask_random_keep=[0.8, 0.1, 0.1], token_dropout=True) | ({'early_exit': dict(layer=a.exit_layer, weight=a.exit_weight)} if a.exit_layer else {})
                                  | ({'skip_block': dict(layer=a.skip_layer, p=a.skip_p)} if a.skip_layer else {}),
                optimizer=dict(name='AdamW', lr=a.lr, betas=[0.9, 0.98], weight_decay=a.weight_decay, warmup=a.warmup, schedule='cosine to 0.1', clip=1.0,
                               tokens_per_batch=a.tokens_per_batch),
                seed=a.seed, steps=tot['steps'], tokens=tot['tokens'], threads=a.threads, train_seconds=tot['seconds'],
                final_loss=info['curve'][-1]['loss'], held_out=scores, loss_curve=tot['curve'],
                stages=[{k: v for k, v in st.items() if k != 'curve'} for st in stages],
                script='tools/train_planted_esm.py', command=a.command, commit=git_commit())
    nan_to_none = lambda o: {k: nan_to_none(v) for k, v in o.items()} if isinstance(o, dict) else (None if isinstance(o, float) and math.isnan(o) else o)
    (out / 'esm2_planted.json.tmp').write_text(json.dumps(nan_to_none(card), indent=1, allow_nan=False))
    (out / 'esm2_planted.json.tmp').replace(out / 'esm2_planted.json')
    return card

def plot(card, path):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    c = card['loss_curve']; fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([r['tokens'] / 1e6 for r in c], [r['loss'] for r in c]); ax.set_xlabel('training tokens (millions)'); ax.set_ylabel('masked-LM loss')
    ax.set_title(f"esm2_planted: {card['architecture']['parameters']/1e6:.2f}M parameters, {card['train_seconds']/60:.0f} min on {card['threads']} threads")
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)

def parse_args(argv=None)->argparse.Namespace:
    "The command line (`--help`), with the command as run in `.command`."
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='plm_sae_nb/weights'); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--layers', type=int, default=6); ap.add_argument('--embed-dim', type=int, default=128); ap.add_argument('--heads', type=int, default=8)
    ap.add_argument('--steps', type=int, default=1300); ap.add_argument('--tokens-per-batch', type=int, default=8192)
    ap.add_argument('--lr', type=float, default=2e-3); ap.add_argument('--warmup', type=int, default=100); ap.add_argument('--weight-decay', type=float, default=0.01)
    ap.add_argument('--chunk', type=int, default=4000, help='proteins per corpus chunk (half of each background)')
    ap.add_argument('--p-motif', type=float, default=0.5, help='probability of each planted motif kind per training protein')
    ap.add_argument('--conc', type=float, nargs='+', default=[30., 15.], help="varied backgrounds: Dirichlet concentrations, one per chunk in turn")
    ap.add_argument('--lowc', type=float, default=0., help="varied backgrounds: share of proteins with low-complexity stretches (0: none, so that generation does not learn runs)")
    ap.add_argument('--backgrounds', nargs='+', default=['swissprot', 'varied'], choices=['swissprot', 'varied'], help='background kinds, equal shares of each chunk')
    ap.add_argument('--zf-style', default='consensus', choices=['prosite', 'consensus'], help="planted_dataset's zf_style for the corpus and the held-out scores")
    ap.add_argument('--init', default='', help="continue from this fp32 checkpoint (its .info.json joins the card) or shipped .safetensors (its .json card's stages join)")
    ap.add_argument('--first-chunk', type=int, default=0, help='index of the first corpus chunk (a second stage takes chunks the first never drew)')
    ap.add_argument('--exit-layer', type=int, default=0, help='also train this layer to predict the masked residues through the final norm and LM head (an early-exit loss; 0: off)')
    ap.add_argument('--exit-weight', type=float, default=1.0, help="the early-exit loss's weight against the final layer's")
    ap.add_argument('--skip-layer', type=int, default=0, help='stochastic depth: leave out this block (1-based) in a share --skip-p of the steps, so that the next block learns to read the one before it (0: off)')
    ap.add_argument('--skip-p', type=float, default=0.5, help="the share of steps that leave out --skip-layer")
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--log-every', type=int, default=25)
    ap.add_argument('--sdpa', action='store_true', help="fair-esm's attention by torch's scaled_dot_product_attention while training (same math, about 2x faster on CPU, not bit-identical)")
    ap.add_argument('--dtype', default='float16', choices=['float16', 'float32'])
    ap.add_argument('--checkpoint', default='', help='also keep the fp32 weights here (to re-evaluate without retraining)')
    ap.add_argument('--eval-only', default='', help='skip training: evaluate and write the card for this fp32 checkpoint (+ its .info.json)')
    a = ap.parse_args(argv)
    if not 0 <= a.skip_layer <= a.layers: ap.error(f"--skip-layer {a.skip_layer}: expected a block 1..{a.layers}, or 0 for none")
    if not 0 <= a.skip_p <= 1: ap.error(f"--skip-p {a.skip_p} is not a probability")
    if a.skip_layer and a.exit_layer: ap.error("--skip-layer and --exit-layer together: the early exit's layer would move when a block is left out")
    if not 0 <= a.exit_layer < a.layers: ap.error(f"--exit-layer {a.exit_layer}: expected a layer 1..{a.layers - 1} (the last layer is the output), or 0 for none")
    a.command = ' '.join(['python', 'tools/train_planted_esm.py'] + (sys.argv[1:] if argv is None else list(argv)))   # as run, into the card
    return a

def main(argv=None):
    a = parse_args(argv)
    import torch
    if a.eval_only:
        model, alphabet = new_model(a)
        model.load_state_dict(torch.load(a.eval_only, weights_only=True)); model.eval()
        info = json.loads(Path(a.eval_only + '.info.json').read_text())
    else:
        model, alphabet, info = train(a)
        if a.checkpoint:
            torch.save(model.state_dict(), a.checkpoint); Path(a.checkpoint + '.info.json').write_text(json.dumps(dict(info, stages=stages_of(a, info))))
    torch.set_num_threads(a.threads)
    with torch.no_grad(): scores = evaluate(model, alphabet, zf_style=a.zf_style)
    card = save(model, a, info, scores); plot(card, Path(a.out) / 'esm2_planted_loss.png')
    print(json.dumps({k: card[k] for k in ('steps', 'tokens', 'train_seconds', 'final_loss', 'held_out')}, indent=1))

if __name__ == '__main__': main()
