"README.md and nbs/index.ipynb (the docs home page) carry the same content; the README keeps exactly two set-up commands."
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_index_matches_readme():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'sync_index.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_two_setup_commands():
    setup = ROOT.joinpath('README.md').read_text().split('## Set up', 1)[1].split('\n## ', 1)[0]
    block = re.search(r'```sh\n(.*?)```', setup, re.S).group(1)
    cmds = [l for l in block.splitlines() if l.strip() and not l.strip().startswith('#')]
    assert cmds == ['pip install torch==2.13.0 -e . && plm-sae-nb demo', 'bash .ci/run'], cmds
