"""Render a report of a small planted run and screenshot it with headless Chromium.

Skips when no chromium is installed, unless CI_REQUIRE_BROWSER=1 (then a missing browser fails).
Checks: the page loads from file:// without network, the screenshot is not blank and shows the
summary table (the top of the page has dark text pixels), and the inlined 3Dmol.js draws the
structure (coloured pixels in the 3D viewer page, software WebGL)."""
import os, shutil, subprocess, tempfile
from pathlib import Path
import numpy as np, pandas as pd
import pytest

def _chromium():
    exe = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome', 'chrome') if shutil.which(n)), None)
    if exe is None:
        if os.environ.get('CI_REQUIRE_BROWSER') == '1': pytest.fail('CI_REQUIRE_BROWSER=1 but no chromium on PATH')
        pytest.skip('chromium not installed')
    return exe

def _shot(exe, url, png, size, extra=()):
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', f'--user-data-dir={tempfile.mkdtemp()}',
             f'--window-size={size[0]},{size[1]}', f'--screenshot={png}', *extra, url]
    r = subprocess.run([exe, *flags], capture_output=True, text=True, timeout=120)
    assert Path(png).exists(), f'chromium wrote no screenshot (rc {r.returncode}): {r.stderr[-2000:]}'
    from PIL import Image
    return np.asarray(Image.open(png).convert('RGB')).astype(int)

def _run():
    from plm_sae_nb.core import Protein
    from plm_sae_nb.results import planted_run
    from plm_sae_nb.structure import toy_structure
    zf = 'CPECGKSFSQKSNLQKHQRTH'
    rng = np.random.default_rng(0); aa = np.array(list('ACDEFGHIKLMNPQRSTVWY'))
    prots = []
    for i in range(12):
        a, b = ''.join(rng.choice(aa, 8 + i)), ''.join(rng.choice(aa, 15))
        prots.append(Protein(f'P{i}', a + zf + b, {'features': [dict(type='ZN_FING', start=len(a), end=len(a) + len(zf))]}))
    table = pd.DataFrame([dict(latent=l, concept='zn_fing', threshold=0.1, precision=p, recall=r, F1=2*p*r/(p+r), q_value=q, auroc=u)
                          for l,p,r,q,u in [(1, 1.0, 1.0, 1e-20, 1.0), (2, 0.1, 0.2, 0.3, 0.55)]])
    steering = pd.DataFrame(dict(value=[0, 2, 4], hit_rate=[0.0, 0.1, 0.3], n=20))
    run, planted = planted_run(prots, d_sae=8, planted={'zn_fing': 1}, table=table, steering=steering,
                               structures={'P11': toy_structure(prots[11].sequence)})
    return run

def test_report_screenshot(tmp_path):
    exe = _chromium()
    from plm_sae_nb.results import report
    run = _run()
    out = report(run, tmp_path/'report.html', title='browser test report')
    img = _shot(exe, out.as_uri(), tmp_path/'report.png', (1000, 800))
    assert img.shape[:2] == (800, 1000)
    dark = (img.sum(-1) < 200)
    assert dark[:300].mean() > 0.005, 'no text in the top of the page: the summary did not render'
    assert (img.std(axis=(0, 1)) > 5).all(), 'blank screenshot'
    # the DOM after the scripts ran: summary table present, the inlined 3Dmol.js drew a canvas into the viewer
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', f'--user-data-dir={tempfile.mkdtemp()}', '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
             '--virtual-time-budget=5000', '--dump-dom', out.as_uri()]
    dom = subprocess.run([exe, *flags], capture_output=True, text=True, timeout=120).stdout
    assert '<section id="summary">' in dom and '<th>proteins</th><td>12</td>' in dom
    import re
    m = re.search(r'<div id="view1"[^>]*>(.*?)</div>', dom, re.S)
    assert m and '<canvas' in m.group(1), 'the 3D viewer did not create a canvas (3Dmol.js not loaded?)'

def test_3d_view_renders(tmp_path):
    exe = _chromium()
    from plm_sae_nb.structure import color_structure, parse_structure, toy_structure, viewer_html
    seq = 'MKTCPECGKSFSQKSNLQKHQRTHAALLKKGGEEVVRRTTYYWWPPAAD'
    vals = np.zeros(len(seq)); vals[3:24] = 3.0
    pdb = color_structure(parse_structure(toy_structure(seq)), seq, vals)
    page = tmp_path/'3d.html'
    page.write_text('<!DOCTYPE html><html><body style="margin:0">' + viewer_html(pdb, width=400, height=300) + '</body></html>')
    img = _shot(exe, page.as_uri(), tmp_path/'3d.png', (400, 300),
                ('--enable-unsafe-swiftshader', '--use-angle=swiftshader', '--virtual-time-budget=5000'))
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    red = (r > 60) & (r - g > 40) & (r - b > 40)   # activation-coloured cartoon (dark red at vmax)
    grey = (abs(r - g) < 12) & (abs(g - b) < 12) & (r < 235) & (r > 60)   # zero-activation cartoon
    assert red.sum() > 50, f'no red (active) residues drawn: {red.sum()} px'
    assert grey.sum() > 50, f'no grey (inactive) residues drawn: {grey.sum()} px'

def test_3dmol_is_package_data():
    from plm_sae_nb.structure import STATIC, threedmol_js
    assert (STATIC/'3Dmol-LICENSE.txt').exists()
    js = threedmol_js()
    assert '$3Dmol' in js or '3Dmol' in js[:2000]
    assert 300_000 < len(js) < 2_000_000

def test_3dmol_ships_with_install(tmp_path):
    "A non-editable install carries 3Dmol.js and its licence, so reports work offline from an installed package."
    import sys
    root = Path(__file__).resolve().parents[1]
    target = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '--target', str(target), str(root)],
                   check=True, capture_output=True, cwd=tmp_path)
    for f in ('3Dmol-min.js', '3Dmol-LICENSE.txt'): assert (target/'plm_sae_nb'/'static'/f).exists(), f
    code = 'import plm_sae_nb.structure as v; print(v.STATIC); print(len(v.threedmol_js()))'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, 'PYTHONPATH': str(target), 'MPLBACKEND': 'Agg'}).stdout.split()
    assert out[0].startswith(str(target)) and int(out[1]) > 300_000, out
