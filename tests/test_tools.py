"""`tools/train_planted_esm.py --sdpa`: the attention it swaps in computes fair-esm's, and the swap is undone."""
import pathlib, sys
import pytest, torch, esm
from esm.multihead_attention import MultiheadAttention
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'tools'))
from train_planted_esm import sdpa_attention

def _model_and_batch():
    torch.manual_seed(0)
    alphabet = esm.data.Alphabet.from_architecture('ESM-1b')
    model = esm.model.esm2.ESM2(num_layers=2, embed_dim=64, attention_heads=4, alphabet=alphabet, token_dropout=True)
    _, _, toks = alphabet.get_batch_converter()([('a', 'MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ'), ('b', 'MLLAVLYC<mask>LLGHW')])
    assert (toks == alphabet.padding_idx).any()          # row b is padded: the key mask is exercised
    return model, toks, toks != alphabet.padding_idx

def _run(model, toks, keep):
    model.zero_grad()
    logits = model(toks)['logits']
    (logits[keep] ** 2).mean().backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

def test_sdpa_attention_is_fair_esm_attention():
    model, toks, keep = _model_and_batch()
    ref, gref = _run(model, toks, keep)
    orig = MultiheadAttention.forward
    with sdpa_attention():
        assert MultiheadAttention.forward is not orig
        out, gout = _run(model, toks, keep)
    assert MultiheadAttention.forward is orig
    assert (ref - out)[keep].abs().max() < 1e-4
    assert set(gref) == set(gout)
    for n in gref: assert (gref[n] - gout[n]).norm() <= 1e-4 * gref[n].norm() + 1e-8, n

def test_sdpa_attention_refuses_head_weights_and_restores():
    model, toks, _ = _model_and_batch()
    orig = MultiheadAttention.forward
    with pytest.raises(ValueError, match='head weights'):
        with sdpa_attention(): model(toks, need_head_weights=True)
    assert MultiheadAttention.forward is orig
