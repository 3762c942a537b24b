import os, tempfile
import pytest

@pytest.fixture(autouse=True, scope='session')
def _isolated_cache():
    "Keep the tests' tiny backbones and feature caches out of the user's cache."
    if 'MEDPROMPT_CACHE' in os.environ: yield; return
    with tempfile.TemporaryDirectory(prefix='medprompt-test-cache-') as d:
        os.environ['MEDPROMPT_CACHE'] = d
        yield
        del os.environ['MEDPROMPT_CACHE']
