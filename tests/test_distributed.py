"""`plm_sae_nb.distributed` under `torchrun --standalone --nproc_per_node 2` (gloo on CPU, one torch thread per process).

A tiny random ESM-2 (`num_layers=2, embed_dim=64, attention_heads=4`) and 64 proteins, four of them longer than
`max_len=128` so that averaged windows are exercised. torchrun start-up is slow, so there are two launches of
`tests/dist_worker.py`, each running several phases:

1. mismatch (rank 1 is given one protein fewer: both ranks must refuse before any work), then kill (`dist_extract`
   with rank 1 SIGKILLing itself in the middle of its second commit: rows in its shards, commit-log line not yet);
2. the same command again (extraction resumes and merges), `dist_train` on the merged store (interrupted at step 200
   and resumed: rank 1 reads rank 0's checkpoint), the other SAE architectures, and a short 2-rank `LiveSource` training.

Everything is compared with single-process runs in this process. Run: `python -m pytest tests/test_distributed.py -q`.
"""
import dataclasses, json, os, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, torch

ROOT, WORKER = Path(__file__).resolve().parents[1], Path(__file__).with_name('dist_worker.py')
ARGS = dict(arch=dict(num_layers=2, embed_dim=64, attention_heads=4), layer=1,
            extract=dict(max_tokens=1024, max_len=128, overlap=64, commit_rows=300),
            sae=dict(d_in=64, d_sae=256, l1_coeff=2.0, lr=1e-3, batch_size=256, steps=400, resample_every=100,
                     dead_threshold=1e-2, log_every=1, checkpoint_every=50, seed=0),
            live=dict(buffer_rows=2048, max_tokens=1024, max_len=128, overlap=64, warmup_proteins=32),
            arch_sae=dict(d_in=32, d_sae=128, k=5, batch_size=256, steps=60, log_every=1, resample_every=20, dead_threshold=1e-2),
            sae_live=dict(d_in=64, d_sae=256, l1_coeff=2.0, lr=1e-3, batch_size=256, steps=40, log_every=1, seed=0))

def torchrun(tmp, phases, nproc=2, timeout=300):
    "Run the worker under torchrun (gloo, 1 thread per process); returns the CompletedProcess."
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path),
               TORCHELASTIC_ERROR_FILE=str(tmp/f'error_{phases}.json'))
    env.pop('CUDA_VISIBLE_DEVICES', None)
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', str(WORKER), str(tmp), phases],
                          env=env, capture_output=True, text=True, timeout=timeout)

@pytest.fixture(scope='module')
def launch1(tmp_path_factory):
    "Proteins, model, and the first (mismatched, then killed) launch; the state it left is recorded before launch 2 changes it."
    from plm_sae_nb.core import Protein
    from plm_sae_nb.uniprot import save_proteins
    from plm_sae_nb.esm import random_esm
    from plm_sae_nb.store import ActivationStore
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp('dist')
    rng = np.random.default_rng(1); AA = np.array(list('ACDEFGHIKLMNPQRSTVWY'))
    lens = np.concatenate([rng.integers(20, 120, 60), [150, 200, 260, 300]])
    proteins = [Protein(f'P{i:03d}', ''.join(rng.choice(AA, int(n)))) for i, n in enumerate(lens)]
    save_proteins(proteins, tmp/'proteins.jsonl'); (tmp/'args.json').write_text(json.dumps(ARGS))
    model, alphabet = random_esm(ARGS['arch'], seed=0)
    kill = torchrun(tmp, 'mismatch,kill,extract')
    try: ActivationStore(tmp/'store2'); store_err = ''
    except Exception as e: store_err = str(e)
    p1 = ActivationStore(tmp/'store2/parts/rank00001-of-00002')
    return dict(tmp=tmp, lens=lens, proteins=proteins, model=model, alphabet=alphabet, kill=kill, store_err=store_err,
                mismatch=[(tmp/f'mismatch{r}.txt').read_text() for r in (0, 1)], p1_commits=len(p1._commits), p1_ids=list(p1.ids))

@pytest.fixture(scope='module')
def launch2(launch1):
    "The same command again (resume + merge), then training on the merged store, other architectures and live training."
    from plm_sae_nb.store import ActivationStore
    from plm_sae_nb.extractor import extract
    d, tmp = dict(launch1), launch1['tmp']
    d['run'] = run = torchrun(tmp, 'extract,train,archs,live')
    assert run.returncode == 0, run.stderr[-4000:]
    d['res'] = json.loads((tmp/'result_extract,train,archs,live.json').read_text())
    d['st2'] = ActivationStore(tmp/'store2')
    d['st1'] = extract(d['model'], d['alphabet'], d['proteins'], ARGS['layer'], tmp/'store1', progress=False, **ARGS['extract'])
    return d

def test_mismatch_and_kill(launch1):
    "Both ranks refuse different inputs; after the kill torchrun failed, no merged store exists, rank 1's part holds one commit."
    from plm_sae_nb.distributed import shard_proteins
    d = launch1
    for msg in d['mismatch']: assert 'differ between ranks' in msg, msg
    assert d['kill'].returncode != 0
    assert 'SIGKILL' in d['kill'].stderr, d['kill'].stderr[-2000:]
    assert 'config.json missing' in d['store_err'], d['store_err']
    shards = shard_proteins(d['lens'], 2)
    assert d['p1_commits'] == 1                        # its second commit was cut between writing the rows and logging them
    assert 0 < len(d['p1_ids']) < len(shards[1]), (len(d['p1_ids']), len(shards[1]))
    assert set(d['p1_ids']) <= {d['proteins'][i].id for i in shards[1]}

def test_merged_store(launch2):
    "The resumed 2-rank extraction holds every protein once, in input order, and equals single-process `extract` up to float16 rounding."
    from plm_sae_nb.distributed import dist_extract, _check_complete
    d, tmp = launch2, launch2['tmp']
    st1, st2, proteins = d['st1'], d['st2'], d['proteins']
    assert st2.ids == [p.id for p in proteins]                  # every protein once, input order
    assert st2.lengths.tolist() == [len(p.sequence) for p in proteins]
    assert sorted(st1.ids) == sorted(st2.ids) and len(st1) == len(st2)
    assert st2.verify()
    assert not (tmp/'store2/parts').exists() and not (tmp/'store2/.merge').exists()
    assert st2.config['n_processes'] == 2
    a = np.concatenate([st1.protein(p.id) for p in proteins]); b = st2.rows(0, len(st2))
    np.testing.assert_allclose(b, a, rtol=2**-10, atol=1e-3)   # at most 1 float16 ulp (differently padded batches)
    s1, s2 = st1.stats(), st2.stats()
    np.testing.assert_allclose(s1['mean'], s2['mean'], rtol=0, atol=1e-3); assert abs(s1['mean_norm'] - s2['mean_norm']) <= 1e-3
    # a finished store: single-process dist_extract resumes with nothing to do; other proteins are refused
    assert dist_extract(d['model'], d['alphabet'], proteins, ARGS['layer'], tmp/'store2', progress=False, **ARGS['extract']).ids == st2.ids
    with pytest.raises(ValueError, match='1 not in the input'):
        _check_complete(st2, [(p.id, p.sequence) for p in proteins[:-1]], list(d['lens'][:-1]))

def test_live_source_matches_merged_store(launch2):
    "A single-process `LiveSource` in input order gives the 2-rank store's rows, up to the store's float16 rounding."
    from plm_sae_nb.distributed import LiveSource
    d = launch2
    live = LiveSource(d['model'], d['alphabet'], d['proteins'], ARGS['layer'], **ARGS['live'])
    assert (live.d_model, len(live)) == (64, len(d['st2']))
    x = torch.cat(list(live.batches(500, shuffle=False)))
    np.testing.assert_allclose(x.numpy(), d['st2'].rows(0, len(d['st2'])), rtol=2**-10, atol=1e-3)

def test_train_tracks_single_process(launch2):
    "2 ranks (global batch 256 = 2 × 128, 400 steps, resampling every 100, resumed at step 200) vs `train_sae` in one process."
    from plm_sae_nb.sae import SAEConfig
    from plm_sae_nb.train import train_sae, sae_metrics
    from plm_sae_nb.pretrained import load_sae
    tmp, st2 = launch2['tmp'], launch2['st2']
    cfg = SAEConfig(**ARGS['sae'])
    sae1 = train_sae(cfg, st2, tmp/'sae1', progress=False)
    h1 = pd.read_csv(tmp/'sae1/metrics.csv'); h2 = pd.read_csv(tmp/'sae2/metrics.csv')
    assert h2.step.tolist() == list(range(1, cfg.steps + 1))
    rel = ((h2.loss - h1.loss).abs() / h1.loss)
    assert rel[:20].max() < 1e-4, rel[:20].max()                # global-batch loss of the first 20 steps within 1e-4 relative
    assert h1.n_resampled.iloc[-1] == h2.n_resampled.iloc[-1] and h1.n_resampled.iloc[-1] > 0  # resampling happened, identically
    m1, m2 = sae_metrics(sae1, st2), sae_metrics(load_sae(tmp/'sae2'), st2)
    for k in ('fvu', 'l0', 'mse'): assert abs(m2[k] - m1[k]) <= 0.02 * abs(m1[k]), (k, m1[k], m2[k])
    assert not (tmp/'sae2/checkpoint.tmp').exists() and sorted(p.name for p in (tmp/'sae2').iterdir()) == ['checkpoint', 'config.json', 'metrics.csv', 'model.safetensors', 'provenance.json']  # provenance: the store's, through the per-rank wrapper

def test_other_architectures(launch2):
    "TopK and JumpReLU track single-process training within 1e-5 relative over 60 steps; BatchTopK (per-rank top k) within 3%."
    from plm_sae_nb.sae import SAEConfig
    from plm_sae_nb.train import train_sae, TensorSource
    from plm_sae_nb.planted import planted_activations
    xp, _ = planted_activations(4000, 32, 64, seed=0)
    for arch, tol in (('topk', 1e-5), ('jumprelu', 1e-5), ('batchtopk', 0.03)):
        one = train_sae(SAEConfig(**ARGS['arch_sae'], architecture=arch), TensorSource(xp), progress=False).history.loss.to_numpy()
        r = np.abs(np.array(launch2['res']['archs'][arch]) - one) / one
        assert r.max() < tol, (arch, r.max())

def test_live_training_per_rank(launch2):
    "Under torchrun each rank's `LiveSource` forwards only its own shard; the shards are disjoint and cover every protein."
    from plm_sae_nb.pretrained import load_sae
    lens, lv = launch2['lens'], sorted(launch2['res']['live'], key=lambda r: r['rank'])
    assert sorted(lv[0]['mine'] + lv[1]['mine']) == list(range(len(launch2['proteins'])))
    assert [r['len'] for r in lv] == [int(lens[r['mine']].sum()) for r in lv]
    for r in lv: assert 40 * 128 <= r['rows'] <= int(lens[r['mine']].sum()) * (1 + (40 * 128) // int(lens[r['mine']].sum()) + 2), r['rows']
    assert load_sae(launch2['tmp']/'live2').cfg.steps == 40
