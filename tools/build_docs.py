#!/usr/bin/env python
"""Offline docs build: execute every notebook of `nbs/` as `nbdev_test` does and render them into one HTML site with Jupyter Book 1 (Sphinx).

nbdev's own docs (`nbdev_docs`) need Quarto, which cannot be installed everywhere (not on our offline
build machines); this build needs only `pip install "jupyter-book<2"` and is run by `.ci/run`, so a
notebook that does not run or does not render fails CI.

What it does:
1. **executes** each notebook listed in `nbs/sidebar.yml` (plus `index.ipynb`, the home page) with
   execnb's `CaptureShell` — the machinery of `nbdev_test`, with its flags: cells marked
   `#| slow`, `#| gpu` (settings.ini `tst_flags`) or `#| eval: false` are not run — in parallel
   processes (`--jobs`, default 2), working directory `nbs/` and `IN_TEST=1`, keeping the outputs
   in a copy (the notebooks in `nbs/` stay clean). Figures are inline PNGs; a displayed ipywidget
   also gets a static `text/html` snapshot (`plm_sae_nb.widgets.static_html`), because a docs page
   has no kernel to draw widgets with;
2. copies them to the build directory, removing the `#| ...` directive lines and directive-only
   cells (`#| default_exp`); cells flagged `#| hide` get the `remove-cell` tag (never shown);
3. writes `_config.yml` and `_toc.yml` (order of `sidebar.yml`; every notebook of `nbs/` must be in
   it, else the build fails); widget views render through their HTML snapshot, and no CDN script
   (require.js, the ipywidgets html-manager) is added;
4. runs `jupyter-book build -W --keep-going` (no execution of its own): any Sphinx warning (bad
   markup, a missing page) fails the build with a non-zero exit status, as does a cell that fails
   in step 1. Two cosmetic warning types are not errors: skipped heading levels (`myst.header`)
   and code Pygments cannot colour (`misc.highlighting_failure`);
5. fails if a built page loads 3Dmol.js or widget scripts from a CDN (`CDN_SCRIPT`): the site is
   offline (MathJax, for the pages with formulas, and Jupyter Book's optional live-code loader are
   the only network URLs left).

`--execute NAME...` executes only the named notebooks (the others render with the outputs saved in
them, i.e. none); `--no-execute` executes none.

Usage: python tools/build_docs.py [--out _book] [--jobs 2] [--execute NAME... | --no-execute]
The site is `<out>/_build/html/index.html`.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing as mp
from pathlib import Path
import yaml

ROOT = Path(__file__).resolve().parents[1]
DIRECTIVE = re.compile(r'^\s*#\s*\|\s*([\w-]+)(.*)$')

def _directives(src: str) -> dict:
    "The nbdev `#| name args` directives at the top of a cell's source."
    out = {}
    for line in src.splitlines():
        m = DIRECTIVE.match(line)
        if m: out[m.group(1)] = m.group(2).strip().lstrip(':').strip()
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

WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
# a script fetched from the network for a figure or widget (the site must show them offline): 3Dmol.js, require.js, the widget manager
CDN_SCRIPT = re.compile(r'''https?://[^"' )]*(?:3dmol|require\.js|require\.min\.js|html-manager|jupyter-widgets)[^"' )]*''', re.I)

def _skip_flags() -> set[str]:
    "nbdev_test's skip flags: settings.ini `tst_flags` (slow gpu)."
    import configparser
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    return set(cfg['DEFAULT'].get('tst_flags', 'slow gpu').split())

def _not_run(cell, flags: set[str]) -> bool:
    "True for cells `nbdev_test` does not run: markdown, `nbdev_export()` calls, `#| eval: false`, a skip flag."
    if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
    d = _directives(cell.source)
    return d.get('eval', '').lower() == 'false' or bool(flags & d.keys())

def _snapshot(cell):
    "Give each displayed ipywidget of `cell` a static `text/html` snapshot (a docs page has no kernel); drop py3Dmol's private mime type (its `text/html` twin stays)."
    for o in cell.get('outputs', []):
        data = o.get('data', {})
        if 'text/html' in data: data.pop('application/3dmoljs_load.v0', None)
        if WIDGET_VIEW not in data or 'text/html' in data: continue
        import ipywidgets
        from plm_sae_nb.widgets import static_html
        insts = getattr(ipywidgets.widgets.widget, '_instances', None) or ipywidgets.Widget.widgets
        w = insts.get(data[WIDGET_VIEW]['model_id'])
        if w is not None: data['text/html'] = static_html(w).splitlines(True)

def execute_notebook(src: str, dest: str) -> tuple[str, float, str]:
    "Run notebook `src` as `nbdev_test` does (same skipped cells, cwd = its folder, IN_TEST=1), write it with outputs to `dest`. Returns (name, seconds, error text or '')."
    t0 = time.time()
    os.environ['IN_TEST'] = '1'
    os.environ.pop('MPLBACKEND', None)                   # inline figures
    sys.path.insert(0, str(ROOT))
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    src = Path(src); flags = _skip_flags()
    nb = read_nb(src)
    shell = CaptureShell(src)
    err = ''
    try:
        with working_directory(src.parent): shell.run_all(nb, exc_stop=True, preproc=lambda c: _not_run(c, flags), postproc=_snapshot)
    except BaseException:
        err = shell.prettytb(fname=src)
    write_nb(nb, dest)
    return src.name, time.time() - t0, err

# notebooks that take longest to execute (measured), started first so that the parallel processes finish together
LONGEST_FIRST = ['07_sae', '08_train', '06_layers', '19_tutorial', '18_cli', '05_extractor', '14_results', '11_steering', '13_viz', '02_planted']

def execute_all(names: list[str], nbs: Path, dest: Path, jobs: int) -> list[str]:
    "Execute notebooks `names` of `nbs` into `dest` in `jobs` fresh processes, longest first; return error texts."
    rank = {f'{s}.ipynb': i for i,s in enumerate(LONGEST_FIRST)}
    names = sorted(names, key=lambda n: (rank.get(n, len(rank)), n))
    kw = {'max_tasks_per_child': 1} if sys.version_info >= (3, 11) else {}
    errors = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context('spawn'), **kw) as ex:
        futs = [ex.submit(execute_notebook, str(nbs/n), str(dest/n)) for n in names]
        for f in futs:
            name, secs, err = f.result()
            print(f'build_docs: executed {name} in {secs:.0f} s' + (' — FAILED' if err else ''), flush=True)
            if err: errors.append(err)
    return errors

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=str(ROOT/'_book'), help='build directory (default: _book)')
    p.add_argument('--nbs', default=str(ROOT/'nbs'), help='notebook folder (default: nbs)')
    p.add_argument('--execute', nargs='+', default=None, metavar='NAME', help='execute only these notebooks (stem); default: all')
    p.add_argument('--no-execute', action='store_true', help='execute no notebook: render the outputs saved in them')
    p.add_argument('--jobs', type=int, default=2, help='notebooks executed in parallel (default: 2)')
    args = p.parse_args(argv)
    out, NBS = Path(args.out).resolve(), Path(args.nbs).resolve()
    order = sidebar_order(NBS/'sidebar.yml')
    if order[0] != 'index.ipynb': order = ['index.ipynb'] + [o for o in order if o != 'index.ipynb']
    present = sorted(q.name for q in NBS.glob('*.ipynb'))
    missing = sorted(set(present) - set(order))
    if missing: sys.exit(f"build_docs: notebooks not listed in nbs/sidebar.yml: {', '.join(missing)}")
    absent = [o for o in order if not (NBS/o).exists()]
    if absent: sys.exit(f"build_docs: nbs/sidebar.yml lists notebooks that do not exist: {', '.join(absent)}")
    stems = [Path(o).stem for o in order]
    run = [] if args.no_execute else stems if args.execute is None else args.execute
    unknown = [e for e in run if e not in stems]
    if unknown: sys.exit(f"build_docs: --execute names unknown notebooks: {', '.join(unknown)}")
    if out.exists(): shutil.rmtree(out)
    (out/'_executed').mkdir(parents=True)
    t0 = time.time()
    errors = execute_all([f'{s}.ipynb' for s in run], NBS, out/'_executed', args.jobs) if run else []
    if run: print(f'build_docs: executed {len(run)} notebooks in {time.time()-t0:.0f} s ({args.jobs} processes)', flush=True)
    if errors:
        print('\n'.join(errors), file=sys.stderr)
        print(f'build_docs: FAILED: {len(errors)} notebook(s) raised while executing', file=sys.stderr)
        return 1
    for name in order:
        src = out/'_executed'/name if (out/'_executed'/name).exists() else NBS/name
        (out/name).write_text(json.dumps(clean_notebook(json.loads(src.read_text())), indent=1))
    shutil.rmtree(out/'_executed')
    if (NBS/'images').is_dir(): shutil.copytree(NBS/'images', out/'images')
    toc = {'format': 'jb-book', 'root': stems[0], 'chapters': [{'file': s} for s in stems[1:]]}
    (out/'_toc.yml').write_text(yaml.safe_dump(toc, sort_keys=False))
    execute = {'execute_notebooks': 'off'}
    config = {'title': 'plm-sae-nb', 'author': 'plm-sae-nb contributors', 'only_build_toc_files': True,
              'execute': execute, 'repository': {'url': 'https://github.com/plm-sae-nb/plm-sae-nb', 'path_to_book': 'nbs', 'branch': 'main'},
              'html': {'use_repository_button': True},
              'sphinx': {'config': {'html_show_copyright': False, 'myst_heading_anchors': 3, 'suppress_warnings': ['myst.header', 'misc.highlighting_failure'],
                                    # widgets render through their static HTML snapshot; no CDN scripts for them
                                    'nb_mime_priority_overrides': [['html', WIDGET_VIEW, None]], 'nb_ipywidgets_js': {}}}}
    (out/'_config.yml').write_text(yaml.safe_dump(config, sort_keys=False))
    jb = shutil.which('jupyter-book', path=str(Path(sys.executable).parent)) or shutil.which('jupyter-book')
    if jb is None: sys.exit('build_docs: jupyter-book not found: pip install "jupyter-book<2"')
    cmd = [jb, 'build', str(out), '--all', '-W', '--keep-going', '-q']
    print('build_docs:', ' '.join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=out)
    site = out/'_build'/'html'/'index.html'
    if r.returncode or not site.exists():
        print(f"build_docs: FAILED (exit {r.returncode}); see the warnings above", file=sys.stderr)
        return r.returncode or 1
    cdn = sorted({f'{f.name}: {m}' for f in (out/'_build'/'html').glob('*.html') for m in CDN_SCRIPT.findall(f.read_text(errors='replace'))})
    if cdn: print('build_docs: FAILED: pages load scripts from a CDN (3Dmol.js and widgets must be inlined):\n  ' + '\n  '.join(cdn), file=sys.stderr); return 1
    print(f"build_docs: {len(order)} notebooks rendered → {site} ({time.time()-t0:.0f} s)")
    return 0

if __name__ == '__main__': sys.exit(main())
