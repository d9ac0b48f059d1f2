"""`tools/train_planted_esm.py --sdpa`: training with the library's fused attention follows the same loss as fair-esm's, and leaves the model as fair-esm's."""
import pathlib, sys
import torch
from esm.multihead_attention import MultiheadAttention
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'tools'))
import train_planted_esm as tool

def _train(*extra):
    a = tool.parse_args(['--layers', '2', '--embed-dim', '32', '--heads', '4', '--steps', '4', '--chunk', '16', '--tokens-per-batch', '1024',
                         '--warmup', '1', '--log-every', '1', '--threads', '1', *extra])
    model, alphabet, info = tool.train(a)
    return model, [r['loss'] for r in info['curve']], info

def test_sdpa_training_follows_fair_esm():
    m0, fair, i0 = _train()
    m1, fused, i1 = _train('--sdpa')
    assert (i0['attention'], i1['attention']) == ('fair-esm', 'sdpa')
    assert len(fair) == len(fused) == 4
    assert max(abs(x - y) for x, y in zip(fair, fused)) < 1e-3                   # the same function: the same losses, to rounding
    for (n, p0), (_, p1) in zip(m0.named_parameters(), m1.named_parameters()):   # and the same weights after four AdamW steps
        assert (p0 - p1).abs().max() < 1e-3, n
    assert any(not torch.equal(p0, p1) for p0, p1 in zip(m0.parameters(), m1.parameters()))  # the fused kernel really ran: not bit-identical
    assert not [m for m in m1.modules() if isinstance(m, MultiheadAttention) and 'forward' in m.__dict__]  # fair-esm's attention is back

def test_init_from_shipped_safetensors(tmp_path):
    "A later stage continues shipped fp16 weights: it starts from them, and its card holds both stages, the first card's loss curve and the init's sha256."
    import hashlib
    args = ['--layers', '2', '--embed-dim', '32', '--heads', '4', '--steps', '3', '--chunk', '16', '--tokens-per-batch', '1024',
            '--warmup', '1', '--log-every', '1', '--threads', '1']
    a1 = tool.parse_args(args + ['--out', str(tmp_path/'s1')]); m1, _, i1 = tool.train(a1); c1 = tool.save(m1, a1, i1, {})
    w = tmp_path/'s1'/'esm2_planted.safetensors'
    sd = tool.init_state(str(w))
    for k, v in m1.state_dict().items(): assert torch.equal(sd[k], v.half().float()), k   # the fp16 weights as shipped, cast up
    a2 = tool.parse_args(args + ['--out', str(tmp_path/'s2'), '--init', str(w), '--first-chunk', '5', '--steps', '2'])
    m2, _, i2 = tool.train(a2); c2 = tool.save(m2, a2, i2, {})
    assert [s['steps'] for s in c2['stages']] == [3, 2] and c2['stages'][1]['init_sha256'] == hashlib.sha256(w.read_bytes()).hexdigest()
    assert c2['loss_curve'][:3] == c1['loss_curve'] and [r['step'] for r in c2['loss_curve']] == [1, 2, 3, 4, 5]
    assert (c2['steps'], c2['tokens'], c2['train_seconds']) == (5, c1['tokens'] + i2['tokens'], round(c1['train_seconds'] + i2['seconds'], 1))

def test_early_exit_loss(tmp_path):
    "`--exit-layer`: the extra loss is the only change (weight 0 follows the plain run step for step), it is applied (weight 1 moves the weights), logged and carded."
    import pytest
    m0, plain, i0 = _train()
    mz, zero, _ = _train('--exit-layer', '1', '--exit-weight', '0')
    assert zero == plain and all(torch.equal(p0, p1) for p0, p1 in zip(m0.parameters(), mz.parameters()))
    m1, one, i1 = _train('--exit-layer', '1', '--out', str(tmp_path))
    assert one[0] == plain[0]                                                   # the first step's final-layer loss is computed before any update
    assert any(not torch.equal(p0, p1) for p0, p1 in zip(m0.parameters(), m1.parameters()))
    assert all(r['exit_loss'] > 0 for r in i1['curve']) and not any('exit_loss' in r for r in i0['curve'])
    assert (i1['exit_layer'], i1['exit_weight'], i0['exit_layer']) == (1, 1.0, None)
    card = tool.save(m1, tool.parse_args(['--layers', '2', '--embed-dim', '32', '--heads', '4', '--exit-layer', '1', '--out', str(tmp_path)]), i1, {})
    assert card['objective']['early_exit'] == dict(layer=1, weight=1.0) and card['stages'][0]['exit_layer'] == 1
    for bad in ('2', '-1'):
        with pytest.raises(SystemExit): tool.parse_args(['--layers', '2', '--exit-layer', bad])

def test_skip_block():
    "`--skip-layer`: `skipped` runs the model without one block and always puts it back; at `--skip-p 0` training follows the plain run, at 1 it differs."
    import pytest
    m0, plain, i0 = _train()
    tokens = torch.tensor([[0, 5, 6, 7, 8, 2]])
    blocks, full = list(m0.layers), m0(tokens)['logits']
    with tool.skipped(m0, 2) as m: assert list(m.layers) == blocks[:1]; short = m(tokens)['logits']
    assert list(m0.layers) == blocks and torch.equal(m0(tokens)['logits'], full) and not torch.allclose(short, full)
    with pytest.raises(RuntimeError), tool.skipped(m0, 1): raise RuntimeError('inside')
    assert list(m0.layers) == blocks                                            # restored after an error too
    mz, zero, _ = _train('--skip-layer', '2', '--skip-p', '0')
    assert zero == plain and all(torch.equal(p0, p1) for p0, p1 in zip(m0.parameters(), mz.parameters()))
    m1, one, i1 = _train('--skip-layer', '2', '--skip-p', '1')
    assert one[0] != plain[0] and (i1['skip_layer'], i1['skip_p'], i0['skip_layer']) == (2, 1.0, None)
    for bad in (['--skip-layer', '3'], ['--skip-layer', '1', '--exit-layer', '1'], ['--skip-layer', '1', '--skip-p', '1.5']):
        with pytest.raises(SystemExit): tool.parse_args(['--layers', '2', *bad])
