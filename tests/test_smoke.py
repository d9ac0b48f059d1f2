"Smoke tests of the installed package: import, version, console script, non-editable install."
import os, subprocess, sys, shutil, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def _version_from_settings():
    txt = (ROOT/'settings.ini').read_text()
    return re.search(r'^version\s*=\s*(\S+)', txt, re.M).group(1)

def test_import_and_version():
    import plm_sae_nb
    assert plm_sae_nb.__version__ == _version_from_settings()

def test_cli_version_and_help():
    exe = shutil.which('plm-sae-nb')
    assert exe, 'console script plm-sae-nb not on PATH'
    out = subprocess.run([exe, '--version'], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f'plm-sae-nb {_version_from_settings()}'
    out = subprocess.run([exe, '--help'], capture_output=True, text=True, check=True).stdout
    for cmd in ['demo', 'extract', 'train', 'enrich', 'steer', 'report']: assert cmd in out

def test_non_editable_install(tmp_path):
    "`pip install .` (not editable) gives an importable package and the CLI, independent of the source tree."
    target = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation',
                    '--target', str(target), str(ROOT)], check=True, capture_output=True, cwd=tmp_path)
    env = {**os.environ, 'PYTHONPATH': str(target)}
    code = 'import plm_sae_nb, sys; print(plm_sae_nb.__file__); print(plm_sae_nb.__version__)'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env=env, cwd=tmp_path).stdout.split()
    assert out[0].startswith(str(target)), out
    assert out[1] == _version_from_settings()
    script = target/'bin'/'plm-sae-nb'
    assert script.exists()
    out = subprocess.run([sys.executable, str(script), '--version'], capture_output=True, text=True,
                         env=env, cwd=tmp_path, check=True).stdout
    assert out.strip() == f'plm-sae-nb {_version_from_settings()}'
    # the installed package carries every exported module of the source tree
    src_mods = sorted(p.name for p in (ROOT/'plm_sae_nb').glob('*.py'))
    inst_mods = sorted(p.name for p in (target/'plm_sae_nb').glob('*.py'))
    assert src_mods == inst_mods

def test_wheel_ships_the_model_organism(tmp_path):
    "The built wheel holds esm2_planted (weights + card) and its SAEs, and an install of that wheel loads them offline, from the install, fast."
    import zipfile, json
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', str(tmp_path/'dist'), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    whl, = (tmp_path/'dist').glob('plm_sae_nb-*.whl')
    names = zipfile.ZipFile(whl).namelist()
    sae_files = [f'plm_sae_nb/weights/{n}/{f}' for n in ('esm2_planted_l4', 'esm2_planted_l5') for f in ('config.json', 'model.safetensors', 'card.json')]
    for f in ['plm_sae_nb/weights/esm2_planted.safetensors', 'plm_sae_nb/weights/esm2_planted.json'] + sae_files: assert f in names, (f, whl.name)
    info = zipfile.ZipFile(whl).getinfo('plm_sae_nb/weights/esm2_planted.safetensors')
    assert info.file_size <= 10 * 2**20, info.file_size
    target = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--target', str(target), str(whl)], check=True, capture_output=True, cwd=tmp_path)
    code = ("import time, json, torch, plm_sae_nb; from plm_sae_nb import load_esm, planted_card, load_sae, PLANTED_SAES, planted_sae_card\n"
            "t = time.perf_counter(); m, a = load_esm('esm2_planted'); t = time.perf_counter() - t\n"
            "saes = {n: [load_sae(n).cfg.d_sae, planted_sae_card(n)['layer']] for n in PLANTED_SAES}\n"
            "print(json.dumps(dict(file=plm_sae_nb.__file__, source=m.plm_sae_source, seconds=t, layers=m.num_layers, steps=planted_card()['steps'], saes=saes)))")
    env = {**os.environ, 'PYTHONPATH': str(target), 'HF_HUB_OFFLINE': '1'}
    r = json.loads(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path).stdout.strip().splitlines()[-1])
    assert r['file'].startswith(str(target)) and str(target) in r['source'], r
    assert r['layers'] == 6 and r['steps'] > 0, r
    assert r['saes'] == {'esm2_planted_l4': [1280, 4], 'esm2_planted_l5': [1280, 5]}, r
    print(f"load_esm('esm2_planted') from the installed wheel: {r['seconds']:.3f} s")
