"""Look at the explorer once in a real browser: a demo results folder, a notebook that opens it in `Explorer`,
served by Voila, photographed by headless Chromium.

    python tools/explorer_browser_check.py OUT_DIR [--voila VOILA] [--chromium CHROMIUM] [--port 8866]

Voila is not a dependency of medprompt: install it in a separate environment that can also import medprompt
(e.g. a venv with a .pth file naming this environment's site-packages, and ipykernel) and pass its `voila`; if the
widgets' JavaScript (jupyterlab_widgets) is in this environment only, point Voila at it with
`JUPYTER_PATH=<this env>/share/jupyter`.
Writes OUT_DIR/explorer.png (and the notebook and results folder it used); prints the page's text and the PNG's path."""
import argparse, base64, json, os, subprocess, time, urllib.error, urllib.request, warnings
from pathlib import Path

CELLS = ["""from medprompt.explore import Explorer""",
"""ex = Explorer.from_folder({results!r})
ex.method.value = next(n for n,m in ex.methods.items() if m.name == 'coop')
ex.compare.value = next(n for n,m in ex.methods.items() if m.name == 'zeroshot')
ex.mistakes.value = True
ex.overlay.value = True
ex"""]

def write_notebook(path:Path, results:Path):
    "A two-cell notebook that opens `results` in the explorer with mistakes, overlay and compare switched on."
    cells = [dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, outputs=[], source=src.format(results=str(results)))
             for i, src in enumerate(CELLS)]
    path.write_text(json.dumps(dict(cells=cells, metadata={'kernelspec': {'name': 'python3', 'display_name': 'python3', 'language': 'python'}},
                                    nbformat=4, nbformat_minor=5)))

def wait_for(url:str, timeout:float=120.):
    "Poll `url` until it answers."
    end = time.time() + timeout
    while time.time() < end:
        try: urllib.request.urlopen(url, timeout=5); return
        except urllib.error.HTTPError: return   # any HTTP answer: the server is up
        except OSError: time.sleep(1)
    raise TimeoutError(f'{url} did not answer within {timeout}s')

def shoot(chromium:str, url:str, png:Path, profile:Path, wait_s:float, port:int=9333):
    "Open `url` in headless Chromium, wait (real time) until the explorer shows a prediction, save a full-page screenshot."
    from websockets.sync.client import connect
    browser = subprocess.Popen([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
                                f'--user-data-dir={profile}', f'--remote-debugging-port={port}', '--window-size=1100,1300', 'about:blank'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f'http://127.0.0.1:{port}/json/version')
        page = next(t for t in json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list')) if t['type'] == 'page')
        with connect(page['webSocketDebuggerUrl'], max_size=None) as ws:
            ids = iter(range(1, 10**6))
            def call(method, **params):
                i = next(ids); ws.send(json.dumps(dict(id=i, method=method, params=params)))
                while (m := json.loads(ws.recv())).get('id') != i: pass
                return m.get('result', {})
            call('Page.navigate', url=url)
            end = time.time() + wait_s
            while 'predicted:' not in (text := call('Runtime.evaluate', expression='document.body ? document.body.innerText : ""')['result'].get('value', '')):
                if time.time() > end: raise TimeoutError(f'No prediction on the page after {wait_s}s; it shows: {text[:300]!r}')
                time.sleep(2)
            time.sleep(3)   # the panels' images decode
            shot = call('Page.captureScreenshot', format='png', captureBeyondViewport=True)
            png.write_bytes(base64.b64decode(shot['data']))
            return text
    finally:
        browser.terminate(); browser.wait(30)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out'); p.add_argument('--voila', default='voila'); p.add_argument('--chromium', default='chromium')
    p.add_argument('--port', type=int, default=8866); p.add_argument('--wait-s', type=int, default=180)
    a = p.parse_args()
    out = Path(a.out).resolve(); out.mkdir(parents=True, exist_ok=True)
    results = out/'demo-results'
    if not (results/'runs').is_dir():
        from medprompt.cli import run_grid
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            run_grid(['zeroshot', 'coop'], 'demo', 'tiny', shots=[4], out=results, save_checkpoints=True, epochs=5, echo=lambda s: None)
    write_notebook(out/'explorer.ipynb', results)
    voila = subprocess.Popen([a.voila, str(out/'explorer.ipynb'), '--no-browser', f'--port={a.port}', '--Voila.ip=127.0.0.1'],
                             stdout=open(out/'voila.log', 'w'), stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        url = f'http://127.0.0.1:{a.port}/'
        wait_for(url + 'api')   # answers without running the notebook
        text = shoot(a.chromium, url, out/'explorer.png', out/'chromium-profile', a.wait_s)
    finally:
        voila.terminate(); voila.wait(30)
    print(text); print(out/'explorer.png')

if __name__ == '__main__': main()
