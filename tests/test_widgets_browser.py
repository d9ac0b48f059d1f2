"""The explorer widget in a real browser: a Jupyter server, a notebook calling `explore(run_dir)`, Chromium driven by Selenium.

Starts JupyterLab on 127.0.0.1 (random free port, a token, `--no-browser`, a temporary root directory) with a
notebook that calls `explore(run_dir)` on a small planted run, opens it in headless Chromium, runs all cells, and
checks what a user sees: picking another latent in the picker moves the residue heatmap to that latent's top protein
(the residues' activations in the page equal the run's), the 3Dmol.js viewer has drawn its canvas (the shipped copy:
the browser has no network), and the latent card names the latent's best concept. The server is stopped at the end,
whatever happens. Screenshots go to `tests/out/` (a CI artefact); `UPDATE_IMAGES=1` also refreshes
`nbs/images/explorer_live.png`.

A missing browser, driver, Selenium or JupyterLab FAILS the test, unless `CI_REQUIRE_BROWSER=0` (then it is skipped,
and the reason is printed)."""
import json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path
import numpy as np, pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'tests'/'out'

def _missing(what: str):
    msg = f'browser test needs {what}'
    if os.environ.get('CI_REQUIRE_BROWSER', '1') == '0':
        print(f'SKIPPED (CI_REQUIRE_BROWSER=0): {msg}', file=sys.stderr)
        pytest.skip(msg)
    pytest.fail(f'{msg} (set CI_REQUIRE_BROWSER=0 to skip instead)')

def _tools():
    "Paths of chromium and chromedriver; selenium and jupyterlab importable."
    exe = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(n)), None)
    if exe is None: _missing("Chromium (Debian: apt-get install -y chromium chromium-driver)")
    drv = shutil.which('chromedriver') or (os.path.exists('/usr/bin/chromedriver') and '/usr/bin/chromedriver')
    if not drv: _missing("chromedriver (Debian: apt-get install -y chromium-driver)")
    for mod, pip in (('selenium', 'selenium'), ('jupyterlab', 'jupyterlab')):
        try: __import__(mod)
        except ImportError: _missing(f'{mod} (pip install {pip})')
    return exe, drv

def _run_dir(d: Path):
    "A small planted run directory: zinc fingers (latent 3) and transmembrane segments (latent 5), toy structures."
    from plm_sae_nb.core import Protein
    from plm_sae_nb.results import planted_run, save_latents
    from plm_sae_nb.structure import toy_structure
    from plm_sae_nb.uniprot import save_proteins
    zf, tm = 'CPECGKSFSQKSNLQKHQRTH', 'LLIVAAGFLLWVIAAFLGAV'
    seqs = {'Z1': 'MASTK' + zf + 'GEKPYAAGLLRSD', 'Z2': 'MKK' + zf + 'TGDLLIVAAGFLLWVIAAFLGRRKSE',
            'T1': 'MSEQ' + tm + 'RKDESTQPGNAK', 'N1': 'MSTGKPEDNRQWASTKPGESDQRNKT'}
    feats = {'Z1': [dict(type='ZN_FING', start=5, end=5+len(zf))], 'Z2': [dict(type='ZN_FING', start=3, end=3+len(zf)), dict(type='TRANSMEM', start=29, end=45)],
             'T1': [dict(type='TRANSMEM', start=4, end=24)], 'N1': []}
    prots = [Protein(k, s, {'features': feats[k]}) for k,s in seqs.items()]
    rows = [dict(latent=l, concept=c, threshold=0.1, precision=p, recall=r, F1=2*p*r/(p+r) if p+r else 0.0, q_value=q, auroc=a)
            for l,c,p,r,q,a in [(3,'zn_fing',1,1,1e-9,1), (5,'transmem',1,1,1e-9,1), (8,'zn_fing',.2,.3,.5,.6)]]
    run, _ = planted_run(prots, d_sae=16, planted={'zn_fing': 3, 'transmem': 5}, seed=1, table=pd.DataFrame(rows))
    d.mkdir(parents=True)
    save_proteins(prots, d/'proteins.jsonl'); save_latents(d/'latents.npz', run.latents, run.index)
    run.table.to_csv(d/'enrichment.csv', index=False)
    (d/'structures').mkdir()
    for k,s in seqs.items(): (d/'structures'/f'{k}.pdb').write_text(toy_structure(s))
    return run

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def jupyter(tmp_path):
    "A JupyterLab server on 127.0.0.1 serving `tmp_path/'root'`; yields (base url, token, root, (chromium, chromedriver)); always stopped."
    tools = _tools()                                    # before anything starts: a missing browser fails (or skips) here
    root = tmp_path/'root'; root.mkdir()
    port, token = _free_port(), os.urandom(12).hex()
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]), 'JUPYTER_CONFIG_DIR': str(tmp_path/'cfg'),
           'JUPYTER_RUNTIME_DIR': str(tmp_path/'rt'), 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
           f'--LabApp.workspaces_dir={tmp_path/"ws"}', '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
           '--LabApp.extension_manager=readonly'] + (['--allow-root'] if hasattr(os, 'geteuid') and os.geteuid() == 0 else [])
    log = open(tmp_path/'jupyter.log', 'w')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            if proc.poll() is not None: pytest.fail(f'jupyter lab exited ({proc.returncode}): {(tmp_path/"jupyter.log").read_text()[-3000:]}')
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2) as r:
                    if r.status == 200: break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'jupyter lab did not answer on {base}: {(tmp_path/"jupyter.log").read_text()[-3000:]}')
        yield base, token, root, tools
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(5)
        log.close()

def _notebook(path: Path, run_dir: Path):
    cells = ["from plm_sae_nb.widgets import explore", f"ex = explore({str(run_dir)!r})\nex"]
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'metadata': {}, 'outputs': [], 'source': c} for c in cells],
          'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}, 'language_info': {'name': 'python'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))

def _driver(exe, drv):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    o = Options(); o.binary_location = exe
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
              '--window-size=1300,1600', '--disable-dev-shm-usage', f'--user-data-dir={tempfile.mkdtemp()}'): o.add_argument(a)
    return webdriver.Chrome(options=o, service=Service(drv))

def _session(base: str, token: str, path: str) -> dict:
    "Start a python3 kernel session for the notebook at `path` through the server's REST API, so the page opens on a running kernel."
    body = json.dumps({'path': path, 'name': path, 'type': 'notebook', 'kernel': {'name': 'python3'}}).encode()
    req = urllib.request.Request(f'{base}/api/sessions?token={token}', data=body, headers={'Content-Type': 'application/json'}, method='POST')
    with urllib.request.urlopen(req, timeout=60) as r: return json.load(r)

def _heatmap(d):
    "(title, {pos: activation}) of the residue heatmap on the page."
    return d.execute_script("""
        const spans = [...document.querySelectorAll('.jp-OutputArea-output [data-pos][data-act]')];
        const box = spans.length ? spans[0].closest('.widget-html-content') : null;
        return [box ? box.innerText.split('\\n')[0] : '', spans.map(s => [s.dataset.pos, s.dataset.act])];""")

def test_explorer_in_jupyterlab(jupyter, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import Select, WebDriverWait
    base, token, root, (exe, drv) = jupyter
    run = _run_dir(root/'run')
    _notebook(root/'explore.ipynb', root/'run')
    OUT.mkdir(parents=True, exist_ok=True)
    d = _driver(exe, drv)
    wait = lambda secs, cond, what: WebDriverWait(d, secs, poll_frequency=0.5).until(lambda _: cond(), message=what)
    try:
        _session(base, token, 'explore.ipynb')                        # the notebook's kernel, started before the page asks for one
        d.get(f'{base}/lab/tree/explore.ipynb?token={token}')
        wait(120, lambda: d.execute_script("return !!document.querySelector('.jp-Notebook .jp-Cell') && "
                                           "document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset?.status === 'idle'"), 'kernel idle')
        def run_all():   # the Run menu's "Run All Cells"
            d.find_element(By.XPATH, "//li[contains(@class,'lm-MenuBar-item')][.//div[text()='Run']]").click()
            item = "//li[contains(@class,'lm-Menu-item')][.//div[contains(@class,'lm-Menu-itemLabel') and text()='Run All Cells']]"
            wait(20, lambda: d.find_elements(By.XPATH, item), 'Run menu')
            d.find_element(By.XPATH, item).click()
        # if "Run All" still comes before the session has its kernel, JupyterLab asks which kernel to start: accept its
        # choice (the notebook's python3), wait for the dialog to go (it takes the clicks while it closes) and run again;
        # and when JupyterLab drops a click (no cell has started 30 s later), click again
        ask = "//div[contains(@class,'jp-Dialog-content')][.//*[normalize-space()='Select Kernel']]//button[contains(@class,'jp-mod-accept')]"
        last = [time.monotonic()]
        def dialogs():
            try: return [e.text for e in d.find_elements(By.CSS_SELECTOR, '.jp-Dialog') if e.is_displayed()]
            except WebDriverException: return ['(a dialog changed while read)']      # e.g. stale: it is closing
        def explorer_shown():
            if dialogs():
                for b in d.find_elements(By.XPATH, ask):
                    try: b.click()
                    except WebDriverException: pass
                last[0] = time.monotonic() - 27                       # run again 3 s after the dialog has gone
                return False
            started = d.execute_script("return [...document.querySelectorAll('.jp-InputPrompt')].some(p => /[0-9*]/.test(p.innerText))")
            if not started and time.monotonic() - last[0] > 30:
                try: run_all()
                except WebDriverException: pass                      # a click taken by something else: try on a later poll
                last[0] = time.monotonic()
            return len(_heatmap(d)[1]) > 0 and d.find_elements(By.CSS_SELECTOR, '.widget-output canvas')
        try: run_all()
        except WebDriverException: last[0] = 0.0                      # taken by a dialog: the poll below clicks again
        try: wait(180, explorer_shown, 'explorer with heatmap and 3D canvas')
        except TimeoutException: raise AssertionError(f'no explorer after 180 s; dialogs open: {dialogs()}') from None
        first_title, _ = _heatmap(d)
        test_top3 = str(run.examples(3, k=1).iloc[0]['protein'])
        assert first_title == f'{test_top3} · latent 3', first_title      # the best choice of an empty search: latent 3 (zn_fing)
        d.save_screenshot(str(OUT/'explorer_start.png'))
        # pick latent 5 in the picker's ranked dropdown
        sel = next(Select(e) for e in d.find_elements(By.CSS_SELECTOR, '.widget-dropdown select') if any(o.text.startswith('3 ') for o in Select(e).options))
        label = next(o.text for o in sel.options if o.text.startswith('5 '))
        sel.select_by_visible_text(label)
        top5 = str(run.examples(5, k=1).iloc[0]['protein'])
        wait(60, lambda: _heatmap(d)[0] == f'{top5} · latent 5', f'heatmap of {top5} · latent 5')
        _, shown = _heatmap(d)
        np.testing.assert_allclose(np.array([float(a) for _,a in sorted(shown, key=lambda pa: int(pa[0]))]), run.acts(top5, 5), atol=1e-3)
        card = d.execute_script("return [...document.querySelectorAll('.widget-html-content pre')].map(p => p.innerText).join('\\n')")
        assert 'Latent 5' in card and 'Best concepts: transmem' in card, card
        wait(60, lambda: d.execute_script(f"return [...document.querySelectorAll('.widget-html-content b')].some(b => b.innerText === {top5!r})"),
             'structure viewer on the new protein')
        wait(60, lambda: d.find_elements(By.CSS_SELECTOR, '.widget-output canvas'), '3Dmol canvas after the change')
        assert not d.find_elements(By.XPATH, "//*[contains(text(), '3Dmol.js failed to load')]")
        for b in d.find_elements(By.XPATH, "//div[contains(@class,'Toastify')]//button[normalize-space()='No']"): b.click()   # JupyterLab's news question
        time.sleep(1.5)                                               # let the viewer draw before the screenshot
        d.execute_script("document.querySelector('.widget-dropdown select').scrollIntoView(true)")
        d.save_screenshot(str(OUT/'explorer_latent5.png'))
        if os.environ.get('UPDATE_IMAGES') == '1': shutil.copy(OUT/'explorer_latent5.png', ROOT/'nbs'/'images'/'explorer_live.png')
    except Exception:
        d.save_screenshot(str(OUT/'explorer_failure.png'))
        raise
    finally:
        d.quit()
