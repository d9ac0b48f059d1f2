"""The UniProt REST client (`plm_sae_nb.uniprot.uniprot_tsv` / `uniprot_proteins`) against a local UniProt-like server.

The fixture: eight entries (seven planted proteins with zinc-binding sites added, and one written
by hand with all twelve feature columns and the uncertain forms), rendered as TSV rows with
`format_features` under UniProt's column labels. The server, on 127.0.0.1 in a background thread,
pages them by cursor like rest.uniprot.org and misbehaves on demand depending on the query: a 503
then success, a 429 with `Retry-After`, a body shorter than its `Content-Length`, a page cut
mid-row, a broken gzip stream, HTML instead of TSV, a wrong `Length`, a wrong `X-Total-Results`,
a 400. The client's waits go to a recorder instead of `time.sleep`.
"""
import gzip, http.server, threading, urllib.parse
from pathlib import Path
import numpy as np
import pytest
import fastcore.test as ft  # ft.test_eq / ft.test_fail (imported as a module so pytest does not collect them)
from plm_sae_nb.core import Protein
from plm_sae_nb.planted import planted_dataset
from plm_sae_nb.uniprot import (UNIPROT_FEATURE_FIELDS, UNIPROT_FIELDS, UNIPROT_LABELS, format_features, label_matrix,
                                parse_features, uniprot_cache_path, uniprot_proteins, uniprot_tsv)

# one entry written by hand in UniProt's TSV syntax, with every feature column and the uncertain forms
HAND = {'ft_helix': 'HELIX 5..12; /evidence="ECO:0007829|PDB:1ABC"; HELIX 30..41; /evidence="ECO:0007829|PDB:1ABC"',
        'ft_strand': 'STRAND 15..19; /evidence="ECO:0007829|PDB:1ABC"', 'ft_turn': 'TURN 20..22; /evidence="ECO:0007829|PDB:1ABC"',
        'ft_intramem': 'INTRAMEM 60..75; /note="Helical; Pore-forming"', 'ft_disulfid': 'DISULFID 27..85; DISULFID 77; /note="Interchain"',
        'ft_act_site': 'ACT_SITE 57; /note="Proton acceptor"; ACT_SITE ?; /note="Nucleophile"',
        'ft_carbohyd': 'CARBOHYD 88; /note="N-linked (GlcNAc...) asparagine"; /evidence="ECO:0000255"',
        'ft_transmem': 'TRANSMEM 100..120; /note="Helical"; /evidence="ECO:0000255"', 'ft_zn_fing': '',
        'ft_topo_dom': 'TOPO_DOM <1..99; /note="Extracellular"; TOPO_DOM 121..>160; /note="Cytoplasmic"',
        'ft_region': 'REGION ?..50; /note="Disordered"; REGION 130..160; /note="Disordered"',
        'ft_binding': 'BINDING 45; /ligand="Zn(2+)"; /ligand_id="ChEBI:CHEBI:29105"; BINDING 130..137; /ligand="ATP"; /ligand_id="ChEBI:CHEBI:30616"'}
FX_HEADER = '\t'.join(UNIPROT_LABELS[f] for f in UNIPROT_FIELDS)

def make_fixture():
    "The eight fixture proteins, features in `meta['features']` (the hand entry also keeps its TSV cells in `meta['tsv']`)."
    fx = planted_dataset(7, seed=11, p_zf=0.6)
    for p in fx:
        cys = [i for i, c in enumerate(p.sequence) if c == 'C'][:2]
        p.meta['features'] = sorted(p.meta['features'] + parse_features('; '.join(f'BINDING {i+1}; /ligand="Zn(2+)"; /ligand_id="ChEBI:CHEBI:29105"' for i in cys), protein=p.id), key=lambda f: (f.start, f.type))
        for f in p.meta['features']: f.protein = p.id
    hp = planted_dataset(1, seed=99, min_len=160, max_len=160, prefix='HAND')[0]
    fx.append(Protein(hp.id, hp.sequence, {'tsv': HAND, 'features': [f for c in UNIPROT_FEATURE_FIELDS for f in parse_features(HAND[c], protein=hp.id)]}))
    return fx

def fx_row(p, length=None):
    cells = dict(accession=p.id, protein_name='Synthetic protein (planted)', organism_name='Homo sapiens (Human)', length=str(length or len(p)), sequence=p.sequence)
    for fld in UNIPROT_FEATURE_FIELDS: cells[fld] = format_features([f for f in p.meta['features'] if f.type == fld[3:].upper()])
    cells.update(p.meta.get('tsv', {}))
    return '\t'.join(cells[f] for f in UNIPROT_FIELDS)

class FixtureHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, headers=(), length=None):
        b = body.encode(); self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        if length is not False: self.send_header('Content-Length', str(len(b) if length is None else length))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path); q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        query, cursor = q['query'], int(q.get('cursor', 0)); srv = self.server
        srv.log.append((u.path, query, cursor)); n_seen = sum(1 for l in srv.log if l[1] == query)
        if query == 'bad query(': return self.send(400, '{"messages":["query parse error"]}', [('Content-Type', 'application/json')])
        if query == 'flaky' and n_seen == 1: return self.send(503, 'Service Unavailable')
        if query == 'ratelimited' and n_seen == 1: return self.send(429, 'Too Many Requests', [('Retry-After', '2')])
        if query == 'nothing': return self.send(200, '', [('X-Total-Results', '0')])
        if query == 'html': return self.send(200, '<!DOCTYPE html><html><body>maintenance</body></html>\n', [('Content-Type', 'text/html')])
        rows = [fx_row(p, length=len(p) + 1 if (query == 'badlength' and i == 4) else None) for i, p in enumerate(srv.fx)]
        size = int(q.get('size', 500)) if u.path.endswith('/search') else len(rows)
        page = rows[cursor:cursor + size]
        headers = [('Content-Type', 'text/plain; format=tsv'), ('X-Total-Results', str(len(rows) + (query == 'overcount')))]
        if cursor + size < len(rows):
            nxt = urllib.parse.urlencode({**q, 'cursor': cursor + size})
            headers.append(('Link', f'<http://127.0.0.1:{srv.server_address[1]}{u.path}?{nxt}>; rel="next"'))
        body = FX_HEADER + '\n' + ''.join(r + '\n' for r in page)
        if query == 'truncated' and cursor > 0: return self.send(200, body, headers, length=len(body.encode()) + 50)
        if query == 'cut' and cursor > 0: return self.send(200, body[:-30], headers, length=False)
        if query == 'nonewline': return self.send(200, body.rstrip('\n'), headers)
        if query.startswith('gzip') and 'gzip' in self.headers.get('Accept-Encoding', ''):
            z = gzip.compress(body.encode())
            if query == 'gzipcut' and cursor > 0: z = z[:-20]  # a complete HTTP body holding a broken gzip stream
            self.send_response(200)
            for k, v in headers + [('Content-Encoding', 'gzip'), ('Content-Length', str(len(z)))]: self.send_header(k, v)
            self.end_headers(); self.wfile.write(z); return
        self.send(200, body, headers)

@pytest.fixture(scope='module')
def fx(): return make_fixture()

class Server:
    "A running fixture server (127.0.0.1 only), its request log, a fresh cache folder and the client's keyword arguments."
    def __init__(self, fx, tmp_path):
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), FixtureHandler); self.srv.log = []; self.srv.fx = fx
        threading.Thread(target=self.srv.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True).start()
        self.base = f'http://127.0.0.1:{self.srv.server_address[1]}'
        self.log, self.cache, self.waits = self.srv.log, tmp_path/'cache', []
        self.kw = dict(base_url=self.base, cache_dir=self.cache, size=3, backoff=0.01, retries=2, progress=False, sleep=self.waits.append, timeout=10)
        self.running = True
    def stop(self):
        if self.running: self.srv.shutdown(); self.srv.server_close(); self.running = False
    def cached_files(self): return sorted(p.name for p in (self.cache/'uniprot').iterdir())

@pytest.fixture
def server(fx, tmp_path):
    s = Server(fx, tmp_path)
    yield s
    s.stop()

def test_pagination_and_stream(server, fx):
    srv, kw = server, server.kw
    # pagination to the end: 8 entries in pages of 3 -> 3 requests, cursors 0, 3, 6
    df = uniprot_tsv('reviewed:true', **kw)
    ft.test_eq(len(df), 8); ft.test_eq(list(df.columns), UNIPROT_FIELDS); ft.test_eq(df.attrs['source'], 'network'); ft.test_eq(df.attrs['pages'], 3)
    ft.test_eq([l[2] for l in srv.log], [0, 3, 6]); ft.test_eq(df['accession'].tolist(), [p.id for p in fx])
    ft.test_eq(df['length'].tolist(), [len(p) for p in fx]); ft.test_eq(df['sequence'].tolist(), [p.sequence for p in fx])
    assert Path(df.attrs['cache_path']).exists()
    # the stream endpoint: one response
    ft.test_eq(len(uniprot_tsv('reviewed:true', endpoint='stream', refresh=True, **kw)), 8); ft.test_eq(srv.log[-1][0], '/uniprotkb/stream')

def test_retries_empty_and_encodings(server):
    srv, kw, waits = server, server.kw, server.waits
    df = uniprot_tsv('reviewed:true', **kw)
    # a 503 then success: retried once after backoff * 2**0; a 429 honours Retry-After
    ft.test_eq(len(uniprot_tsv('flaky', **kw)), 8); ft.test_eq(waits, [0.01])
    ft.test_eq(len(uniprot_tsv('ratelimited', **kw)), 8); ft.test_eq(waits, [0.01, 2.0])
    e0 = uniprot_tsv('nothing', **kw); ft.test_eq((e0.shape, list(e0.columns)), ((0, len(UNIPROT_FIELDS)), UNIPROT_FIELDS))  # no entries
    ft.test_eq(uniprot_tsv('nothing', **kw).attrs['source'], 'cache')
    ft.test_eq(uniprot_tsv('nonewline', **kw), df)  # complete pages without a final newline are fine
    ft.test_eq(uniprot_tsv('gzip', **kw), df)  # a gzip-encoded answer (what rest.uniprot.org sends) is decoded

def test_truncated_bodies_cache_nothing(server):
    srv, kw, cache = server, server.kw, server.cache
    uniprot_tsv('reviewed:true', **kw); uniprot_tsv('nothing', **kw)
    # truncated bodies: retried, then a clear error, and nothing cached (page 1 was fine, but no partial file)
    before = srv.cached_files(); srv.log.clear()
    ft.test_fail(lambda: uniprot_tsv('truncated', **kw), contains='failed after 3 attempts (truncated body')
    ft.test_eq([l[2] for l in srv.log], [0, 3, 3, 3])
    ft.test_fail(lambda: uniprot_tsv('gzipcut', **kw), contains='truncated body')
    ft.test_fail(lambda: uniprot_tsv('cut', **kw), contains='truncated body (last line cut')
    ft.test_eq(srv.cached_files(), before); assert not uniprot_cache_path('truncated', cache_dir=cache).exists()

def test_malformed_answers_fail_at_once(server, fx):
    srv, kw = server, server.kw
    uniprot_tsv('reviewed:true', **kw)
    before = srv.cached_files()
    # malformed answers fail at once
    srv.log.clear()
    ft.test_fail(lambda: uniprot_tsv('html', **kw), contains="not TSV: '<!DOCTYPE html>")
    ft.test_eq(len(srv.log), 1)
    ft.test_fail(lambda: uniprot_tsv('badlength', **kw), contains=f"entry {fx[4].id} has Length '{len(fx[4]) + 1}' but a sequence of {len(fx[4])} residues")
    ft.test_fail(lambda: uniprot_tsv('overcount', **kw), contains='got 8 entries, the server announced 9')
    ft.test_fail(lambda: uniprot_tsv('bad query(', **kw), contains='HTTP 400')
    ft.test_fail(lambda: uniprot_tsv('reviewed:true', **{**kw, 'size': 501}), contains='size=501')
    ft.test_fail(lambda: uniprot_tsv('reviewed:true', fields=['accession', 'sequence', 'length', 'ft_helix'], refresh=True, **kw), contains='does not match the fields')
    ft.test_eq(srv.cached_files(), before)

def test_served_from_cache_when_server_is_gone(server):
    srv, kw = server, server.kw
    df = uniprot_tsv('reviewed:true', **kw)
    srv.stop()
    # the server is gone: the same query is served from the cache, with no request; offline mode too
    n_req = len(srv.log)
    again = uniprot_tsv('reviewed:true', **kw)
    ft.test_eq(again.attrs['source'], 'cache'); ft.test_eq(again, df); ft.test_eq(len(srv.log), n_req)
    ft.test_eq(uniprot_tsv('reviewed:true', offline=True, **kw), df)
    ft.test_fail(lambda: uniprot_tsv('organism_id:9606', offline=True, **kw), contains="offline mode: no cached UniProt result for query 'organism_id:9606'")
    ft.test_fail(lambda: uniprot_tsv('organism_id:9606', **kw), contains='failed after 3 attempts')  # online, server down: retried, then named

def test_uniprot_proteins_from_the_cache(server, fx):
    "`uniprot_proteins` on the cached query gives back the fixture proteins, features parsed: the labels equal those of the originals."
    kw = server.kw
    uniprot_tsv('reviewed:true', **kw); server.stop()
    got = uniprot_proteins('reviewed:true', offline=True, **{k: v for k, v in kw.items() if k != 'sleep'})
    ft.test_eq([(p.id, p.sequence) for p in got], [(p.id, p.sequence) for p in fx])
    ft.test_eq(got[0].meta['organism_name'], 'Homo sapiens (Human)'); ft.test_eq(got[0].meta['length'], len(fx[0]))
    for a, b in zip(got, fx): ft.test_eq(sorted(a.meta['features'], key=repr), sorted(b.meta['features'], key=repr))  # every field of every Feature
    cs = ['zn_fing', 'transmem', 'carbohyd', 'disulfid', 'binding:Zn(2+)']
    ft.test_eq(label_matrix(got, cs, instances=True), label_matrix(fx, cs, instances=True))
    ft.test_eq(label_matrix(got, cs)['binding:Zn(2+)'].sum(), sum(f.type == 'BINDING' and f.qualifiers['ligand'] == 'Zn(2+)' for p in fx for f in p.meta['features']))
    ft.test_eq(label_matrix(got, ['binding:ligand=ATP'])['binding:ligand=ATP'].sum(), 8)  # BINDING 130..137 of the hand entry
    # the hand-written entry: topological domains and the TM helix tile the protein; '?' features are left out
    H = label_matrix(got[-1:], ['topo_dom', 'transmem', 'region', 'act_site', 'disulfid', 'intramem'], instances=True)
    ft.test_eq(((H['topo_dom'] > 0) ^ (H['transmem'] > 0)).all(), True)
    ft.test_eq(np.flatnonzero(H['transmem']).tolist(), list(range(99, 120)))
    ft.test_eq(np.flatnonzero(H['region']).tolist(), list(range(129, 160)))   # REGION ?..50 cannot be placed
    ft.test_eq(np.flatnonzero(H['act_site']).tolist(), [56])                  # ACT_SITE ? neither
    ft.test_eq(H['disulfid'].to_numpy()[[26, 84, 76]].tolist(), [1, 1, 2])    # bond 27-85, interchain 77
    ft.test_eq(got[-1].meta['features'][0].qualifiers['evidence'], 'ECO:0007829|PDB:1ABC')
