#!/usr/bin/env python
"""Offline docs build: render every notebook of `nbs/` into one HTML site with Jupyter Book 1 (Sphinx).

nbdev's own docs (`nbdev_docs`) need Quarto, which cannot be installed everywhere (not on our offline
build machines); this build needs only `pip install "jupyter-book<2"` and is run by `.ci/run`, so a
notebook that does not render fails CI.

What it does:
1. copies each notebook listed in `nbs/sidebar.yml` (plus `index.ipynb`, the home page) to a build
   directory, removing the `#| ...` directive lines and directive-only cells (`#| default_exp`);
   cells flagged `#| hide` get the `remove-cell` tag (never shown; still run when executing), and
   cells `nbdev_test` does not run (`#| slow`, `#| gpu`, `#| eval: false`) the `skip-execution` tag;
2. writes `_config.yml` and `_toc.yml` (order of `sidebar.yml`; every notebook of `nbs/` must be in
   it, else the build fails);
3. runs `jupyter-book build -W --keep-going`: any Sphinx warning (a broken cell, bad markup, a
   missing page, a cell that fails when executing) fails the build with a non-zero exit status.
   Three cosmetic warning types are not errors: widget outputs without a static rendering
   (`mystnb.unknown_mime_type`), skipped heading levels (`myst.header`) and code Pygments cannot
   colour (`misc.highlighting_failure`).

Notebooks are rendered with the outputs saved in them (no execution) unless `--execute NAME...`
names notebooks to run during the build (the tutorial's offline path takes a minute or two).

Usage: python tools/build_docs.py [--out _book] [--execute 19_tutorial]
The site is `<out>/_build/html/index.html`.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, subprocess, sys
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*([\w-]+)(.*)$')

def _directives(src: str) -> dict:
    "The nbdev `#| name args` directives at the top of a cell's source."
    out = {}
    for line in src.splitlines():
        m = DIRECTIVE.match(line)
        if m: out[m.group(1)] = m.group(2).strip()
        elif line.strip(): break
    return out

def clean_notebook(nb: dict) -> dict:
    "A copy of notebook `nb` as the docs show it: `#| hide` cells tagged `remove-cell` (run when executing, never shown), cells not run by `nbdev_test` (`#| slow`, `#| gpu`, `#| eval: false`) tagged `skip-execution`, directive lines and directive-only cells removed."
    cells = []
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        d = _directives(src)
        tags = list(c.get('metadata', {}).get('tags', []))
        if c['cell_type'] == 'code':
            body = '\n'.join(l for l in src.splitlines() if not DIRECTIVE.match(l)).strip('\n')
            if not body.strip(): continue
            if 'hide' in d: tags.append('remove-cell')
            if 'hide_output' in d or d.get('output') == 'false': tags.append('remove-output')
            if 'slow' in d or 'gpu' in d or d.get('eval') == 'false': tags.append('skip-execution')
            c = {**c, 'source': body}
        elif 'hide' in d: continue
        if tags: c = {**c, 'metadata': {**c.get('metadata', {}), 'tags': tags}}
        cells.append(c)
    meta = dict(nb.get('metadata', {}))
    meta.setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
    meta.setdefault('language_info', {'name': 'python'})
    return {**nb, 'cells': cells, 'metadata': meta}

def sidebar_order(sidebar: Path) -> list[str]:
    "Notebook file names in the order of nbdev's `sidebar.yml` (nested sections flattened)."
    def walk(items):
        for it in items:
            if isinstance(it, str): yield it
            elif isinstance(it, dict):
                if 'contents' in it: yield from walk(it['contents'])
                elif 'href' in it: yield it['href']
    return list(walk(yaml.safe_load(sidebar.read_text())['website']['sidebar']['contents']))

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=str(ROOT/'_book'), help='build directory (default: _book)')
    p.add_argument('--nbs', default=str(ROOT/'nbs'), help='notebook folder (default: nbs)')
    p.add_argument('--execute', nargs='*', default=[], metavar='NAME', help='notebooks (stem) to execute during the build')
    args = p.parse_args(argv)
    out, NBS = Path(args.out).resolve(), Path(args.nbs).resolve()
    order = sidebar_order(NBS/'sidebar.yml')
    if order[0] != 'index.ipynb': order = ['index.ipynb'] + [o for o in order if o != 'index.ipynb']
    present = sorted(q.name for q in NBS.glob('*.ipynb'))
    missing = sorted(set(present) - set(order))
    if missing: sys.exit(f"build_docs: notebooks not listed in nbs/sidebar.yml: {', '.join(missing)}")
    absent = [o for o in order if not (NBS/o).exists()]
    if absent: sys.exit(f"build_docs: nbs/sidebar.yml lists notebooks that do not exist: {', '.join(absent)}")
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in order:
        nb = json.loads((NBS/name).read_text())
        (out/name).write_text(json.dumps(clean_notebook(nb), indent=1))
    if (NBS/'images').is_dir(): shutil.copytree(NBS/'images', out/'images')
    stems = [Path(o).stem for o in order]
    unknown = [e for e in args.execute if e not in stems]
    if unknown: sys.exit(f"build_docs: --execute names unknown notebooks: {', '.join(unknown)}")
    toc = {'format': 'jb-book', 'root': stems[0], 'chapters': [{'file': s} for s in stems[1:]]}
    (out/'_toc.yml').write_text(yaml.safe_dump(toc, sort_keys=False))
    execute = {'execute_notebooks': 'force' if args.execute else 'off', 'timeout': 900,
               'exclude_patterns': [f'{s}.ipynb' for s in stems if s not in args.execute],
               'allow_errors': False}
    config = {'title': 'plm-sae-nb', 'author': 'plm-sae-nb contributors', 'only_build_toc_files': True,
              'execute': execute, 'repository': {'url': 'https://github.com/plm-sae-nb/plm-sae-nb', 'path_to_book': 'nbs', 'branch': 'main'},
              'html': {'use_repository_button': True},
              'sphinx': {'config': {'html_show_copyright': False, 'myst_heading_anchors': 3, 'suppress_warnings': ['mystnb.unknown_mime_type', 'myst.header', 'misc.highlighting_failure']}}}
    (out/'_config.yml').write_text(yaml.safe_dump(config, sort_keys=False))
    jb = shutil.which('jupyter-book', path=str(Path(sys.executable).parent)) or shutil.which('jupyter-book')
    if jb is None: sys.exit('build_docs: jupyter-book not found: pip install "jupyter-book<2"')
    cmd = [jb, 'build', str(out), '--all', '-W', '--keep-going', '-q']
    print('build_docs:', ' '.join(cmd), flush=True)
    # executed notebooks: inline figures (no MPLBACKEND=Agg from the caller), one torch thread as under nbdev_test (IN_TEST)
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}
    if args.execute: env['IN_TEST'] = '1'
    r = subprocess.run(cmd, cwd=out, env=env)
    site = out/'_build'/'html'/'index.html'
    if r.returncode or not site.exists():
        print(f"build_docs: FAILED (exit {r.returncode}); see the warnings above", file=sys.stderr)
        return r.returncode or 1
    print(f"build_docs: {len(order)} notebooks rendered → {site}")
    return 0

if __name__ == '__main__': sys.exit(main())
