"""`import plm_sae_nb` after `import torch` (seconds, best of 5 fresh interpreters) against a 1-second budget,
and against importing every module eagerly (what the package top would cost without lazy loading).

Prints `import plm_sae_nb: ours X, reference Y, ratio Z` (reference = the 1 s budget; ratio = budget / ours)
and `import plm_sae_nb vs eager: ours X, reference Y, ratio Z` (ratio = eager / ours). Run: `python benchmarks/import_time.py`.
"""
import subprocess, sys

def timed(stmt:str, n:int=5) -> float:
    code = f"import time, torch; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout) for _ in range(n))

if __name__ == '__main__':
    lazy = timed('import plm_sae_nb')
    eager = timed("import plm_sae_nb, importlib; [importlib.import_module('plm_sae_nb.' + m) for m in plm_sae_nb._API]", n=3)
    print(f"import plm_sae_nb: ours {lazy:.4f} s, reference 1.0 s, ratio {1.0/lazy:.0f}x")
    print(f"import plm_sae_nb vs eager: ours {lazy:.4f} s, reference {eager:.2f} s, ratio {eager/lazy:.0f}x")
