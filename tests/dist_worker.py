"""Worker run by `tests/test_distributed.py` under `torchrun --nproc_per_node 2` (gloo, one thread per process).

Usage: `python -m torch.distributed.run --standalone --nproc_per_node 2 tests/dist_worker.py TMP PHASES`, where TMP holds
`args.json` and `proteins.jsonl` and PHASES is a comma-separated subset of mismatch, kill, extract, train, archs, live.
Rank 0 writes what the test compares into `TMP/result_<PHASES>.json`.
"""
import json, os, signal, sys, time
import torch
import torch.distributed as dist
from pathlib import Path

def main(tmp:Path, phases:list[str], tag:str):
    from plm_sae_nb.uniprot import load_proteins
    from plm_sae_nb.esm import random_esm
    from plm_sae_nb.store import ActivationStore
    from plm_sae_nb.sae import SAEConfig
    from plm_sae_nb.distributed import init_distributed, dist_extract, dist_train, LiveSource
    a = json.loads((tmp/'args.json').read_text())
    info = init_distributed()
    model, alphabet = random_esm(a['arch'], seed=0)
    proteins = load_proteins(tmp/'proteins.jsonl')
    res = {}
    if 'mismatch' in phases:  # rank 1 gets one protein fewer: both ranks must refuse
        try: dist_extract(model, alphabet, proteins[:len(proteins) - info.rank], a['layer'], tmp/'bad', progress=False, **a['extract']); msg = 'no error'
        except ValueError as e: msg = str(e)
        (tmp/f'mismatch{info.rank}.txt').write_text(msg)
    if 'kill' in phases and info.rank == 1:
        orig, calls = ActivationStore.commit, [0]
        def commit(self):
            calls[0] += bool(self.uncommitted_rows)
            if calls[0] == 2: os.kill(os.getpid(), signal.SIGKILL)  # rows are in the shards, not yet in the log
            return orig(self)
        ActivationStore.commit = commit
    if 'extract' in phases:
        t = time.perf_counter()
        dist_extract(model, alphabet, proteins, a['layer'], tmp/'store2', progress=False, **a['extract'])
        res['extract_s'] = time.perf_counter() - t
    if 'train' in phases:
        cfg, store = SAEConfig(**a['sae']), ActivationStore(tmp/'store2')
        dist_train(cfg, store, tmp/'sae2', progress=False, stop_at=a['sae']['steps'] // 2)  # "interrupted"
        dist_train(cfg, store, tmp/'sae2', progress=False)                                  # resumed
    if 'archs' in phases:  # the other architectures, on planted activations
        from plm_sae_nb.train import TensorSource
        from plm_sae_nb.planted import planted_activations
        x, _ = planted_activations(4000, 32, 64, seed=0)
        res['archs'] = {arch: dist_train(SAEConfig(**a['arch_sae'], architecture=arch), TensorSource(x), progress=False).history.loss.tolist()
                        for arch in ('topk', 'jumprelu', 'batchtopk')}
    if 'live' in phases:
        src = LiveSource(model, alphabet, proteins, a['layer'], **a['live'])
        t = time.perf_counter()
        dist_train(SAEConfig(**a['sae_live']), src, tmp/'live2', progress=False)
        mine = dict(rank=info.rank, len=len(src), mine=src.mine.tolist(), rows=src.n_forward_rows, s=time.perf_counter() - t)
        got = [None] * info.world_size; dist.all_gather_object(got, mine); res['live'] = got
    if info.rank == 0: (tmp/f'result_{tag}.json').write_text(json.dumps(res))

if __name__ == '__main__':
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), sys.argv[2].split(','), sys.argv[2])
