"""Kill test of `extract`: a subprocess extracting two layers is SIGKILLed mid-run; resuming gives the uninterrupted store.

A subprocess extracts two layers of a tiny model into a store, committing every ~2,000 rows; it is SIGKILLed as soon
as a few commits are on disk (wherever it is: inside a forward pass, writing shard rows, appending the index line).
The same `extract` call then resumes it, and the result must equal an uninterrupted run: same ids in the same order,
same row index, bit-identical rows (the batch plan does not depend on what was already stored).
Run: `python -m pytest tests/test_extract_kill.py -q`.
"""
import os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np, torch

ROOT = Path(__file__).resolve().parents[1]
JOB = textwrap.dedent('''
    import sys, numpy as np, torch; torch.set_num_threads(1)
    from plm_sae_nb.esm import random_esm
    from plm_sae_nb.extractor import extract
    m, a = random_esm(dict(num_layers=2, embed_dim=64, attention_heads=4), seed=5)
    rng = np.random.default_rng(11); AA = np.array(list('ACDEFGHIKLMNPQRSTVWY'))
    prots = [(f'K{i}', ''.join(rng.choice(AA, n))) for i, n in enumerate(rng.integers(10, 300, 600))]
    opts = dict(max_tokens=2048, shard_rows=4096, commit_rows=2000, progress=False)
    if __name__ == '__main__': extract(m, a, prots, [1, 2], sys.argv[1], **opts)
''')

def test_sigkill_then_resume_is_bit_identical(tmp_path):
    from plm_sae_nb.store import ActivationStore
    from plm_sae_nb.extractor import extract
    torch.set_num_threads(1)
    tmp = tmp_path
    (tmp/'job.py').write_text(JOB)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.Popen([sys.executable, str(tmp/'job.py'), str(tmp/'killed')], env=env)
    idx_file, t0 = tmp/'killed'/'layer_2'/'index.jsonl', time.time()
    while time.time() - t0 < 120 and proc.poll() is None:
        if idx_file.exists() and idx_file.read_bytes().count(b'\n') >= 3: break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL
    g = {}; exec(JOB, g)                                   # same model, proteins and options, in this process
    partial = {l: len(ActivationStore(tmp/'killed'/f'layer_{l}')) for l in (1, 2)}
    total = sum(len(s) for _, s in g['prots'])
    assert 0 < partial[2] < total, (partial, total)        # killed mid-run
    extract(g['m'], g['a'], g['prots'], [1, 2], tmp/'killed', **g['opts'])
    clean = extract(g['m'], g['a'], g['prots'], [1, 2], tmp/'clean', **g['opts'])
    for l in (1, 2):
        r, c = ActivationStore(tmp/'killed'/f'layer_{l}'), clean[l]
        assert r.ids == c.ids; assert len(r) == total
        assert r.row_index().equals(c.row_index())
        for a in range(0, total, 20000): assert np.array_equal(r.rows(a, min(total, a + 20000)), c.rows(a, min(total, a + 20000)))
        np.testing.assert_allclose(r.stats()['mean'], c.stats()['mean'], rtol=0, atol=1e-9)
        r.verify()
