"""Build the docs site without quarto: nbdev's processed notebooks, written as Markdown, built by MkDocs (Material).

quarto cannot be installed everywhere (it is a binary; `nbdev-docs` needs it), so `make docs` builds a browsable
site from the *same* processed notebooks: each notebook goes through nbdev's own `FilterDefaults` processors
(the quarto site's pipeline: `show_doc` entries after every exported symbol, exported and hidden cells removed,
backticked names linked), then becomes one Markdown page (prose with its equations as MathML, the code a reader
sees, its committed outputs, figures as PNG files), and MkDocs-Material builds the site: navigation in the reading
order of `nbs/sidebar.yml`, client-side search, one page per notebook. `check_site` then checks that every page exists, every internal link
and anchor resolves and the search index holds every page.

`show_doc` entries are rendered by `medprompt.showdoc.DocRenderer` (the `renderer` of `[tool.nbdev]`), as on the
quarto site: source links on their line, `None` for an inferred `NoneType`, the comments of `**kwargs` kept.

Processed notebooks are cached under `_mkdocs/cache`, keyed by the notebook, the library's sources, this script
and nbdev's version, so a rebuild only re-processes what changed.

Usage: `python tools/build_docs.py [--out _mkdocs] [--serve]`; `make docs`. Needs the `docs` extra (mkdocs-material).
"""
import argparse, base64, hashlib, html.parser, json, logging, os, re, shutil, sys
from pathlib import Path
from urllib.parse import urlparse, unquote

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

def page_name(nb:Path)->str:
    "The page a notebook becomes, as nbdev names it (`12_coop.ipynb` -> `coop`)."
    return 'index' if nb.stem == 'index' else re.sub(r'^\d+[a-zA-Z0-9]*_', '', nb.stem.lower())

def reading_order(sidebar:Path=NBS/'sidebar.yml')->list:
    "MkDocs `nav` from nbdev's sidebar: its pages and sections, `auto` globs expanded in name order."
    import yaml
    def items(contents):
        res = []
        for c in contents:
            if isinstance(c, str): res.append(f'{page_name(NBS/c)}.md')
            elif 'auto' in c: res += [f'{page_name(p)}.md' for p in sorted(NBS.glob(c['auto']))]
            else: res.append({c['section']: items(c['contents'])})
        return res
    return items(yaml.safe_load(sidebar.read_text())['website']['sidebar']['contents'])

# ---- nbdev processing ----
def _cache_key(nb:Path)->str:
    import nbdev
    h = hashlib.sha256(nb.read_bytes() + nbdev.__version__.encode() + (ROOT/'pyproject.toml').read_bytes() + Path(__file__).read_bytes())
    for p in sorted((ROOT/'medprompt').rglob('*.py')): h.update(p.read_bytes())
    return h.hexdigest()[:20]

def process(nb:Path, cache:Path)->dict:
    "`nb` through nbdev's docs processors (cached by content), as a JSON notebook."
    f = cache/f'{nb.stem}-{_cache_key(nb)}.json'
    if f.exists(): return json.loads(f.read_text())
    from fastcore.nbio import read_nb, nb2dict
    from fastcore.xtras import working_directory
    from nbdev.processors import FilterDefaults
    nb_ = read_nb(nb)
    prev = os.environ.get('IN_TEST')
    with working_directory(NBS):
        os.environ['IN_TEST'] = '1'          # as nbdev's docs build (serve_drv) runs them
        try: FilterDefaults()(nb_)
        finally:
            if prev is None: del os.environ['IN_TEST']
            else: os.environ['IN_TEST'] = prev
    d = dict(nb2dict(nb_), frontmatter=dict(getattr(nb_, 'frontmatter_', {}) or {}))
    for stale in cache.glob(f'{nb.stem}-*.json'): stale.unlink()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix('.tmp'); tmp.write_text(json.dumps(d)); tmp.replace(f)
    return d

# ---- one processed notebook -> one Markdown page ----
def _directives(src:str):
    "A code cell's quarto options (`#| key: value`) and its code without them."
    opts, code = {}, []
    for l in src.splitlines():
        if m := re.match(r'^#\|\s*([\w-]+)\s*:?\s*(.*)$', l): opts[m[1]] = m[2].strip().lower()
        else: code.append(l)
    return opts, '\n'.join(code).strip()

def _relink(md:str, doc_url:str)->str:
    "Links to the published site or to notebooks, as links between the pages of this site."
    pages = r'(?P<page>[\w.-]+)\.html(?P<frag>#[^)\s"]*)?'
    if doc_url: md = re.sub(re.escape(doc_url.rstrip('/')) + '/' + pages, lambda m: f"{m['page']}.md{m['frag'] or ''}", md)
    md = re.sub(r'\]\(/' + pages + r'\)', lambda m: f"]({m['page']}.md{m['frag'] or ''})", md)
    return re.sub(r'\]\((?P<nb>\w+)\.ipynb(?P<frag>#[^)\s]*)?\)', lambda m: f"]({page_name(Path(m['nb']))}.md{m['frag'] or ''})", md)

_RE_CODE = re.compile(r'(```.*?```|`[^`\n]*`)', re.S)
_RE_MATH = re.compile(r'\$\$(.+?)\$\$|(?<![\\$\w])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\w$])', re.S)

def math_to_mathml(md:str)->str:
    "`$...$` and `$$...$$` outside code as MathML, which browsers render without JavaScript or a network (TeX kept if it fails)."
    from latex2mathml.converter import convert
    def conv(m):
        block = m[1] is not None
        try: ml = convert((m[1] if block else m[2]).strip(), display='block' if block else 'inline')
        except Exception: return m[0]
        return ml if block else f'<span class="math">{ml}</span>'   # a line starting <math> would be an HTML block
    return ''.join(p if i % 2 else _RE_MATH.sub(conv, p) for i,p in enumerate(_RE_CODE.split(md)))

def _text(s): return s if isinstance(s, str) else ''.join(s)
def _fence(s, lang='text'):
    s = _text(s).rstrip('\n'); ticks = '`' * max(3, 1 + max((len(t) for t in re.findall('`+', s)), default=0))
    return f'{ticks}{lang}\n{s}\n{ticks}'

def _output(o:dict, fig:callable)->str:
    "One cell output as Markdown: figures as files, Markdown as it is, HTML raw, the rest as text."
    if o['output_type'] == 'stream': return _fence(o['text'])
    if o['output_type'] == 'error': return _fence('\n'.join(o.get('traceback', [])))
    d = o.get('data', {})
    for mime, ext in (('image/png', 'png'), ('image/jpeg', 'jpg')):
        if mime in d: return f'![]({fig(base64.b64decode(_text(d[mime])), ext)})'
    if 'image/svg+xml' in d: return f"![]({fig(_text(d['image/svg+xml']).encode(), 'svg')})"
    if 'text/markdown' in d:
        md = _text(d['text/markdown'])
        # an anchor per show_doc entry, named as nbdev's doc links name it (`### CoOp.forward` -> #coop.forward)
        return re.sub(r'^(#+) (\S+)[ \t]*$', lambda m: f"{m[1]} {m[2]} {{ #{m[2].lower()} }}", md, count=1, flags=re.M)
    if 'text/html' in d: return f'<div class="nb-output" markdown="0">\n{_text(d["text/html"]).strip()}\n</div>'
    if 'text/plain' in d: return _fence(d['text/plain'])
    return ''

def to_markdown(nb:dict, page:str, out:Path, doc_url:str='')->str:
    "A processed notebook as one Markdown page; its figures are written to `out/<page>_files/`."
    fm, parts, n = nb.get('frontmatter', {}), [], [0]
    if fm.get('title'): parts.append(f"# {fm['title']}" + (f"\n\n> {fm['description']}" if fm.get('description') else ''))
    def fig(data, ext):
        n[0] += 1; p = out/f'{page}_files'/f'fig-{n[0]}.{ext}'
        p.parent.mkdir(parents=True, exist_ok=True); p.write_bytes(data)
        return f'{page}_files/{p.name}'
    for c in nb['cells']:
        if c['cell_type'] == 'markdown': parts.append(math_to_mathml(_text(c['source'])))
        if c['cell_type'] != 'code' or 'source' not in c: continue    # nbdev removes exported/hidden cells' source
        opts, code = _directives(_text(c['source']))
        if opts.get('include') == 'false': continue
        if code and opts.get('echo') != 'false': parts.append(_fence(code, 'python'))
        if opts.get('output') != 'false':
            parts += [s for o in c.get('outputs', []) if (s := _output(o, fig))]
    return _relink('\n\n'.join(p.strip('\n') for p in parts if p.strip()) + '\n', doc_url)

# ---- the site ----
class _Warnings(logging.Handler):
    "MkDocs' warnings (unresolved links, pages left out of the nav...), kept to be reported with the link check."
    def __init__(self): super().__init__(logging.WARNING); self.msgs = []
    def emit(self, record): self.msgs.append(f'mkdocs: {record.getMessage()}')

def build(out:Path=ROOT/'_mkdocs', notebooks=None, cache:Path=ROOT/'_mkdocs'/'cache')->tuple:
    "Process the notebooks (cached in `cache`), write their pages to `out/md`, build the site into `out/site`: (site, MkDocs' warnings)."
    import yaml
    from mkdocs.commands.build import build as mk_build
    from mkdocs.config import load_config
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    doc_url = f"{cfg.doc_host}{cfg.doc_baseurl}" if cfg.doc_host else ''
    md_dir, site = out/'md', out/'site'
    shutil.rmtree(md_dir, ignore_errors=True); md_dir.mkdir(parents=True)
    nbs = notebooks or [NBS/'index.ipynb', NBS/'start_here.ipynb'] + sorted(p for p in NBS.glob('[0-9]*.ipynb'))
    for nb in nbs:
        page = page_name(nb)
        (md_dir/f'{page}.md').write_text(to_markdown(process(nb, cache), page, md_dir, doc_url))
    conf = yaml.safe_load((ROOT/'mkdocs.yml').read_text())
    have = {f'{page_name(nb)}.md' for nb in nbs}
    def keep(items):
        res = [i if isinstance(i, str) else {k: keep(v) for k,v in i.items()} for i in items if not isinstance(i, str) or i in have]
        return [i for i in res if isinstance(i, str) or any(i.values())]
    conf.update(docs_dir=str(md_dir), site_dir=str(site), nav=keep(reading_order()))
    (out/'mkdocs.yml').write_text(yaml.safe_dump(conf, sort_keys=False))
    log, h = logging.getLogger('mkdocs'), _Warnings()
    log.addHandler(h)
    try: mk_build(load_config(str(out/'mkdocs.yml')))
    finally: log.removeHandler(h)
    return site, h.msgs

class _Refs(html.parser.HTMLParser):
    "The ids a page defines and the links and sources it refers to."
    def __init__(self):
        super().__init__(); self.ids, self.refs = set(), []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ('id', 'name'):
            if a.get(k) and (k == 'id' or tag == 'a'): self.ids.add(a[k])
        for k in ('href', 'src'):
            if a.get(k) is not None and not (tag == 'link' and a.get('rel') in ('canonical', 'alternate')): self.refs.append(a[k])

def check_site(site:Path, nav=None)->list:
    "Every problem of a built site: missing pages, internal links or anchors that do not resolve, no search index."
    site, probs, pages = Path(site), [], {}
    for p in site.rglob('*.html'):
        r = _Refs(); r.feed(p.read_text(encoding='utf-8')); pages[p.resolve()] = r
    flat = lambda items: [x for i in items for x in ([i] if isinstance(i, str) else flat(list(i.values())[0]))]
    for page in flat(nav if nav is not None else reading_order()):
        if (site/page).with_suffix('.html').resolve() not in pages: probs.append(f'missing page: {page}')
    for p, r in sorted(pages.items()):
        if p.name == '404.html': continue      # MkDocs' 404 page links from the site root, wherever it is served
        for ref in r.refs:
            u = urlparse(ref)
            if u.scheme or u.netloc or ref.startswith(('mailto:', 'javascript:')): continue
            target = (p.parent/unquote(u.path)).resolve() if u.path else p
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): probs.append(f'{p.relative_to(site.resolve())}: broken link {ref!r}'); continue
            if u.fragment and target.suffix == '.html' and unquote(u.fragment) not in pages[target].ids:
                probs.append(f'{p.relative_to(site.resolve())}: no anchor #{u.fragment} in {target.name} ({ref!r})')
    idx = site/'search'/'search_index.json'
    if not idx.exists(): probs.append('no search index (search/search_index.json)')
    else:
        indexed = {d['location'].split('#')[0] for d in json.loads(idx.read_text())['docs']}
        probs += [f'page not in the search index: {q}' for q in flat(nav if nav is not None else reading_order())
                  if q.replace('.md', '.html') not in indexed and not (q == 'index.md' and '' in indexed)]
    return probs

def main(args=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'_mkdocs'), help='build folder: md/ (pages), site/ (the site)')
    ap.add_argument('--serve', action='store_true', help='then serve the site on http://localhost:8000')
    a = ap.parse_args(args)
    site, warns = build(Path(a.out))
    probs = warns + check_site(site)
    for p in probs: print(p)
    n = len(list(site.rglob('*.html')))
    print(f'build_docs: {n} HTML pages in {site}; {len(probs)} problem(s)')
    if a.serve and not probs:
        import http.server, functools
        http.server.test(functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site)), port=8000)
    return 1 if probs else 0

if __name__ == '__main__': sys.exit(main())
