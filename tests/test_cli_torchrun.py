"""`plm-sae-nb run` under torchrun (two gloo CPU processes) against the same config in one process (see `nbs/18_cli.ipynb`,
"Many processes"): the same proteins in input order, the activations equal up to float16 rounding, one summary, no temporary
directories left, and the SAE's final L0 and FVU within 2%."""
import contextlib, io, json, os, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest

torch = pytest.importorskip('torch')
from plm_sae_nb.cli import main
from plm_sae_nb.store import ActivationStore
from plm_sae_nb.uniprot import load_proteins

SMALL = ['data.n_proteins=40', 'data.max_length=150', 'sae.expansion=2', 'sae.steps=200',
         'sae.batch_size=256', 'sae.metric_proteins=4', 'steer.n=4', 'steer.length=30']
SETS = [a for s in SMALL for a in ('--set', s)]

def _cli(*argv):
    "Run `main(argv)` in-process: (exit status, stdout, stderr)."
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try: rc = main(list(argv))
        except SystemExit as e: rc = e.code
    return rc, out.getvalue(), err.getvalue()

def test_torchrun_two_processes_match_one(tmp_path):
    rc, text, err = _cli('demo', '--print-config', *SETS)
    assert rc == 0, err
    (tmp_path/'small.toml').write_text(text)
    R1, R2 = tmp_path/'run_1p', tmp_path/'run_2p'  # the same config in one process and under torchrun
    threads = torch.get_num_threads()
    try: rc, _, err = _cli('run', str(tmp_path/'small.toml'), '--until', 'train', '--out', str(R1), '--threads', '1', '-q')
    finally: torch.set_num_threads(threads)
    assert rc == 0, err[-3000:]
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='', PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '-m', 'plm_sae_nb.cli',
                           'run', str(tmp_path/'small.toml'), '--until', 'train', '--out', str(R2), '--threads', '1', '-q'],
                          env=env, capture_output=True, text=True, timeout=400)
    print(f'torchrun, 2 processes: exit code {proc.returncode}, {time.perf_counter() - t0:.1f} s wall')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count(' — run directory ') == 1  # one summary: rank 0's
    s1, s2 = ActivationStore(R1/'activations'), ActivationStore(R2/'activations')
    assert sorted(s2.ids) == sorted(s1.ids); assert len(s2) == len(s1)  # same proteins, none lost or duplicated
    assert s2.ids == [p.id for p in load_proteins(R2/'proteins.jsonl')]  # the merged store is in input order
    r1, r2 = s1.rows(0, len(s1)), np.concatenate([s2.protein(p) for p in s1.ids])  # rows of each protein, in s1's order
    assert (s1.config['dtype'], s2.config['dtype'], r2.shape) == ('float16', 'float16', r1.shape)
    maxrel = (np.abs(r1 - r2) / np.maximum(np.abs(r1), 1e-3)).max()
    print(f'{len(s2):,} rows × {s2.d_model}: {(r1 == r2).mean():.2%} of values bitwise equal, max relative difference {maxrel:.2e} (float16 ulp: {2**-10:.2e})')
    np.testing.assert_allclose(r2, r1, rtol=2**-10, atol=1e-3)  # 16_distributed's stated tolerance
    assert s2.verify(); assert s2.config['n_processes'] == 2
    assert not (R2/'.activations.tmp').exists() and not (R2/'.sae.tmp').exists() and not (R2/'activations'/'parts').exists()
    assert sorted(q.stem for q in (R2/'steps').glob('*.json')) == ['data', 'extract', 'train']
    m1, m2 = json.loads((R1/'sae'/'metrics.json').read_text()), json.loads((R2/'sae'/'metrics.json').read_text())
    for k in ('l0', 'fvu'):
        print(f'{k}: 1 process {m1[k]:.4g}, 2 processes {m2[k]:.4g}')
        assert abs(m2[k] - m1[k]) <= 0.02 * abs(m1[k]), (k, m1[k], m2[k])
