"The docs site that `make docs` builds (tools/build_docs.py): every page, every internal link and anchor, search."
import importlib.util, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location('build_docs', ROOT/'tools'/'build_docs.py')
bd = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bd)

def test_page_names_follow_nbdev():
    assert [bd.page_name(Path(p)) for p in ('nbs/12_coop.ipynb', 'nbs/19a_maple.ipynb', 'nbs/index.ipynb')] == ['coop', 'maple', 'index']

def test_reading_order_is_the_sidebar():
    nav = bd.reading_order()
    assert nav[:2] == ['index.md', 'start_here.md'] and [list(s)[0] for s in nav[2:]] == ['Foundations', 'Methods', 'Experiments']
    pages = [p for s in nav[2:] for p in list(s.values())[0]]
    assert pages[:2] == ['core.md', 'backbones.md'] and pages[-3:] == ['cli.md', 'interpret.md', 'explore.md']
    assert len(pages) == len(list((ROOT/'nbs').glob('[0-9]*.ipynb')))

def test_markdown_of_a_processed_notebook(tmp_path):
    pytest.importorskip('latex2mathml', reason='the docs extra is not installed: pip install -e .[docs]')
    png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
    nb = dict(frontmatter=dict(title='CoOp', description='learn the prompt'), cells=[
        dict(cell_type='markdown', source='See [`CoOp`](/coop.html#coop) and [the data](02_data.ipynb).'),
        dict(cell_type='code', source='#| echo: false\n#| output: asis\nshow_doc(CoOp)', outputs=[dict(output_type='execute_result',
             data={'text/markdown': '---\n\n### CoOp.forward\n\n*Logits.*', 'text/plain': '<>'})]),
        dict(cell_type='code', source='plt.plot([1])', outputs=[dict(output_type='display_data', data={'image/png': png})]),
        dict(cell_type='code', source='#| output: false\nx', outputs=[dict(output_type='stream', name='stdout', text='hidden')]),
        dict(cell_type='code', outputs=[])])                                       # an exported cell nbdev emptied
    md = bd.to_markdown(nb, 'coop', tmp_path)
    assert md.startswith('# CoOp\n\n> learn the prompt\n\nSee [`CoOp`](coop.md#coop) and [the data](data.md).')
    assert '### CoOp.forward { #coop.forward }' in md and 'show_doc' not in md
    assert '```python\nplt.plot([1])\n```\n\n![](coop_files/fig-1.png)' in md and (tmp_path/'coop_files'/'fig-1.png').read_bytes()[:4] == b'\x89PNG'
    assert 'hidden' not in md

def test_link_check_finds_broken_links_and_anchors(tmp_path):
    (tmp_path/'search').mkdir()
    (tmp_path/'search'/'search_index.json').write_text(json.dumps(dict(docs=[dict(location='a.html')])))
    (tmp_path/'a.html').write_text('<h2 id="x">x</h2><a href="a.html#x">ok</a><a href="#y">no anchor</a><a href="b.html">gone</a>'
                                   '<a href="https://example.org/z.html">external</a><img src="a_files/fig-1.png">')
    probs = bd.check_site(tmp_path, ['a.md', 'c.md'])
    assert sorted(probs) == sorted(["a.html: no anchor #y in a.html ('#y')", "a.html: broken link 'b.html'",
                                    "a.html: broken link 'a_files/fig-1.png'", 'missing page: c.md', 'page not in the search index: c.md'])

@pytest.fixture(scope='module')
def site():
    "The whole site, built once (processed notebooks are cached in _mkdocs/cache, so a rebuild takes seconds)."
    for m in ('mkdocs', 'latex2mathml'): pytest.importorskip(m, reason='the docs extra is not installed: pip install -e .[docs]')
    import tempfile
    with tempfile.TemporaryDirectory(prefix='medprompt-docs-') as d: yield bd.build(Path(d))

def test_site_builds_and_every_link_resolves(site):
    site, warns = site
    probs = warns + bd.check_site(site)
    assert not probs, f'{len(probs)} problem(s) of the docs site:\n' + '\n'.join(probs)
    n_nbs = len(list((ROOT/'nbs').glob('*.ipynb')))
    assert len([p for p in site.glob('*.html') if p.name != '404.html']) == n_nbs

def test_api_pages_have_show_doc_entries_and_figures(site):
    site, _ = site
    train = (site/'train.html').read_text()
    for anchor in ('promptmethod', 'methodlearner'): assert f'id="{anchor}"' in train, anchor
    # medprompt.showdoc.DocRenderer renders every entry (showdoc.html, the page that explains it, quotes both)
    html = ''.join(p.read_text() for p in site.glob('*.html') if p.name != 'showdoc.html')
    assert '#LNone' not in html and 'NoneType' not in html
    figures = [p for p in (site).rglob('*_files/fig-*')]
    n_pics = sum(1 for nb in (ROOT/'nbs').glob('*.ipynb') for c in json.loads(nb.read_text())['cells']
                 for o in c.get('outputs', []) for m in o.get('data', {}) if m.startswith('image/'))
    assert len(figures) == n_pics

def _extension_points():
    "The public methods of the classes a contributor extends: (class, name, function)."
    from medprompt.backbones import Backbone
    from medprompt.train import PromptMethod, MethodLearner
    for cls in (Backbone, PromptMethod, MethodLearner):
        for n, v in [('__init__', cls.__dict__.get('__init__'))] + [(n, v) for n, v in vars(cls).items() if not n.startswith('_')]:
            f = v.fget if isinstance(v, property) else getattr(v, '__func__', v)
            if callable(f) and not isinstance(f, type): yield cls, n, f

def test_extension_points_document_every_parameter():
    "Backbone, PromptMethod, MethodLearner: every parameter of every public method has its docments comment."
    from fastcore.docments import docments
    bare = [f'{c.__name__}.{n}({k})' for c, n, f in _extension_points()
            for k, d in docments(f, full=True, args_kwargs=True).items() if k not in ('self', 'cls', 'return') and not d['docment']]
    assert not bare, f'{len(bare)} parameter(s) without a docments comment: ' + ', '.join(bare)

def test_extension_points_have_show_doc_entries(site):
    "Every public method of Backbone, PromptMethod, MethodLearner has its own entry on its page."
    site, _ = site
    pages = {'Backbone': 'backbones.html', 'PromptMethod': 'train.html', 'MethodLearner': 'train.html'}
    ids = {p: (r := bd._Refs(), r.feed((site/p).read_text()))[0].ids for p in set(pages.values())}
    missing = [f'{c.__name__}.{n}' for c, n, _ in _extension_points() if n != '__init__'
               and f'{c.__name__}.{n}'.lower() not in ids[pages[c.__name__]]]
    assert not missing, f'no show_doc entry for: {", ".join(missing)}'

def test_equations_become_mathml():
    pytest.importorskip('latex2mathml', reason='the docs extra is not installed: pip install -e .[docs]')
    md = bd.math_to_mathml('learns $M$ vectors, costs $5 and $6, `$HOME`:\n$$p = \\frac{a}{b}$$')
    assert md.startswith('learns <span class="math"><math') and 'costs $5 and $6, `$HOME`' in md
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"><mrow><mi>p</mi>' in md
