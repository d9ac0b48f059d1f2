#!/usr/bin/env python
"""Write `nbs/index.ipynb` (the docs home page) from `README.md`, so the two keep the same content.

nbdev's usual direction (index.ipynb → README.md with `nbdev_readme`) needs Quarto; this goes the
other way with no dependency. The title and the `> description` line become the first markdown cell
(nbdev reads them as page title and description), the rest one markdown cell per `## ` section;
image links into `nbs/images/` are made relative to `nbs/`.
`--check` exits non-zero if index.ipynb is out of date (tests/test_readme.py runs it).
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def index_cells(readme: str) -> list:
    readme = readme.replace('](nbs/images/', '](images/')  # README sits at the root, index.ipynb in nbs/
    parts = re.split(r'(?m)^(?=## )', readme.strip('\n'))
    return [{'cell_type': 'markdown', 'metadata': {}, 'source': p.strip('\n')} for p in parts]

def notebook(readme: str) -> dict:
    cells = index_cells(readme)
    cells = [{'cell_type': c['cell_type'], 'id': f'readme{i:02d}', 'metadata': c['metadata'], 'source': c['source']}
             for i, c in enumerate(cells)]  # nbdev_clean's key order, so a clean leaves the file unchanged
    return {'cells': cells, 'metadata': {'jupytext': {'cell_metadata_filter': '-all', 'main_language': 'python',
            'notebook_metadata_filter': '-all'}}, 'nbformat': 4, 'nbformat_minor': 5}

def current(path: Path) -> list:
    nb = json.loads(path.read_text())
    return [''.join(c['source']) if isinstance(c['source'], list) else c['source'] for c in nb['cells']]

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    readme, index = (ROOT/'README.md').read_text(), ROOT/'nbs'/'index.ipynb'
    want = [c['source'] for c in index_cells(readme)]
    if '--check' in argv:
        if current(index) != want:
            print('nbs/index.ipynb differs from README.md: run python tools/sync_index.py', file=sys.stderr)
            return 1
        return 0
    index.write_text(json.dumps(notebook(readme), indent=1, ensure_ascii=False) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
