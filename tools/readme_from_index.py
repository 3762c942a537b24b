"""Write README.md from nbs/index.ipynb without quarto.

`nbdev-readme` renders the README with quarto, which not every machine has; this writes the same
content (markdown cells as they are, code cells as fenced python) so the README never drifts from
the index notebook. Run it after editing nbs/index.ipynb.
"""
import json, re
from pathlib import Path

root = Path(__file__).resolve().parents[1]
cells = json.loads((root/'nbs'/'index.ipynb').read_text())['cells']
out = []
for c in cells:
    src = ''.join(c['source']).strip()
    if c['cell_type'] == 'markdown':
        out.append(re.sub(r'^> ', '', src, flags=re.M) if src.startswith('>') else src)
    elif src and not src.startswith('#| hide'):
        out.append(f'```python\n{src}\n```')
(root/'README.md').write_text('\n\n'.join(out) + '\n')
