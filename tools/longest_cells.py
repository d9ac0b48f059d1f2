#!/usr/bin/env python
"""Print the longest exported cell of each notebook (lines of source, directives included).

The house style is one short definition per exported cell; `--max N` exits non-zero when a notebook's
longest exported cell is over N lines. Usage: python tools/longest_cells.py [--max 60]
"""
import argparse, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPORT = re.compile(r'^\s*#\s*\|\s*export', re.M)

def exported_cells(path:Path) -> list[tuple[int, int, str]]:
    "(cell number, lines, first definition line) of each exported code cell of a notebook."
    out = []
    for i, c in enumerate(json.loads(path.read_text())['cells']):
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'code' and EXPORT.search(src):
            first = next((l for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#')), '')
            out.append((i, len(src.splitlines()), first.strip()[:60]))
    return out

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--max', type=int)
    a = ap.parse_args(argv); worst = 0
    print(f"{'notebook':<24} {'cells':>5} {'median':>6} {'longest':>7}  longest cell starts with")
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        cells = exported_cells(p)
        if not cells: continue
        lens = sorted(n for _, n, _ in cells); i, n, first = max(cells, key=lambda c: c[1])
        print(f"{p.name:<24} {len(cells):>5} {lens[len(lens)//2]:>6} {n:>7}  cell {i}: {first}")
        worst = max(worst, n)
    return 1 if a.max is not None and worst > a.max else 0

if __name__ == '__main__': sys.exit(main())
