__version__ = "0.0.1"

import warnings
# fastai 2.8 calls torch.jit.script at import, which torch 2.14 deprecates: a warning no user can act on (see nbs/00_core)
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
