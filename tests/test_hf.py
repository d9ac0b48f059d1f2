"""Hugging Face ESM-2 models in the installed package, the way users and the paper's code run them.

- `extract` on a model converted from a random Hugging Face ESM-2 of the published 8M shape stores, for every
  protein, the rows HF's forward hook on `esm.encoder.layer.3.output` (the paper's hook) sees, within 1e-5;
- a hub name resolves through `huggingface_hub`'s default cache under `$HF_HOME` with `HF_HUB_OFFLINE=1` in a fresh
  process (where `huggingface_hub` reads its environment), with proxies pointing at a closed port;
- without `transformers` and `huggingface_hub` the package still imports and loads a `save_pretrained` directory,
  and `to_hf` / hub names fail naming the `hf` extra.
"""
import hashlib, json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np, pytest, torch

transformers = pytest.importorskip('transformers')
from plm_sae_nb.esm import load_esm, to_hf
from plm_sae_nb.extractor import extract
from plm_sae_nb.store import ActivationStore

def hf_esm(num_layers=6, hidden_size=320, heads=20, seed=0):
    cfg = transformers.EsmConfig(vocab_size=33, pad_token_id=1, mask_token_id=32, hidden_size=hidden_size, num_hidden_layers=num_layers,
                                 num_attention_heads=heads, intermediate_size=4*hidden_size, layer_norm_eps=1e-5, token_dropout=True,
                                 position_embedding_type='rotary', emb_layer_norm_before=False, hidden_dropout_prob=0.0,
                                 attention_probs_dropout_prob=0.0, architectures=['EsmForMaskedLM'])
    torch.manual_seed(seed); m = transformers.EsmForMaskedLM(cfg).eval()
    with torch.no_grad():
        for p in m.parameters(): p.add_(0.02 * torch.randn_like(p))
    return m

def run(code, env):
    r = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout

@pytest.fixture(scope='module')
def hf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('hf')/'esm2_t6_8M_UR50D'
    hf_esm().save_pretrained(d)
    return d

def test_extract_equals_paper_hook(tmp_path):
    torch.set_num_threads(1)
    hf = hf_esm()
    model, alphabet = load_esm(hf)
    rng = np.random.default_rng(0)
    prots = [(f'p{i}', ''.join(rng.choice(list('ACDEFGHIKLMNPQRSTVWY'), n))) for i, n in enumerate([90, 12, 47])]
    store = extract(model, alphabet, prots, 4, tmp_path/'store', dtype=torch.float32, progress=False)
    toks = alphabet.get_batch_converter()(prots)[2]
    seen = {}
    h = hf.esm.encoder.layer[3].output.register_forward_hook(lambda m, i, o: seen.update(h=o))
    with torch.no_grad(): hs = hf(toks, attention_mask=toks.ne(alphabet.padding_idx), output_hidden_states=True).hidden_states[4]
    h.remove()
    for i, (pid, s) in enumerate(prots):
        rows = torch.from_numpy(np.asarray(store.protein(pid)))
        assert rows.shape == (len(s), 320)
        assert (rows - seen['h'][i, 1:len(s)+1]).abs().max() < 1e-5  # residues only: no BOS/EOS in the store
        assert (rows - hs[i, 1:len(s)+1]).abs().max() < 1e-5
    assert json.loads((tmp_path/'store'/'config.json').read_text())['model'] == 'esm2_t6_d320'

def test_hub_cache_under_hf_home(hf_dir, tmp_path):
    repo = tmp_path/'home'/'hub'/'models--facebook--esm2_t6_8M_UR50D'; commit = 'f' * 40
    snap = repo/'snapshots'/commit; snap.mkdir(parents=True); (repo/'blobs').mkdir(); (repo/'refs').mkdir()
    for f in hf_dir.iterdir():
        blob = repo/'blobs'/hashlib.sha256(f.read_bytes()).hexdigest(); blob.write_bytes(f.read_bytes())
        (snap/f.name).symlink_to(os.path.relpath(blob, snap))
    (repo/'refs'/'main').write_text(commit)
    env = os.environ | {'HF_HOME': str(tmp_path/'home'), 'HF_HUB_OFFLINE': '1', 'HTTPS_PROXY': 'http://127.0.0.1:9',
                        'HTTP_PROXY': 'http://127.0.0.1:9', 'OMP_NUM_THREADS': '1'}
    env.pop('HF_HUB_CACHE', None); env.pop('HUGGINGFACE_HUB_CACHE', None)
    out = run(f"""
        import socket
        def refuse(*a, **k): raise AssertionError('network access attempted')
        socket.socket.connect = refuse; socket.getaddrinfo = refuse
        import torch
        from plm_sae_nb.esm import load_esm
        m, _ = load_esm('facebook/esm2_t6_8M_UR50D')
        d, _ = load_esm({str(hf_dir)!r})
        assert all(torch.equal(v, d.state_dict()[k]) for k, v in m.state_dict().items())
        print(m.plm_sae_name, m.plm_sae_source)
        """, env)
    assert out.split() == ['esm2_t6_8M_UR50D', 'huggingface:facebook/esm2_t6_8M_UR50D']

def test_without_the_hf_extra(hf_dir):
    out = run(f"""
        import sys; sys.modules['transformers'] = sys.modules['huggingface_hub'] = None  # as if not installed
        from plm_sae_nb.esm import load_esm, to_hf
        m, _ = load_esm({str(hf_dir)!r})  # a directory needs neither
        for f in (lambda: to_hf(m), lambda: load_esm('facebook/esm2_t6_8M_UR50D', source='hf')):
            try: f(); raise SystemExit('no error')
            except ImportError as e: assert "pip install 'plm-sae-nb[hf]'" in str(e), e
        print(m.plm_sae_name, m.num_layers)
        """, os.environ | {'OMP_NUM_THREADS': '1'})
    assert out.split() == ['esm2_t6_8M_UR50D', '6']
