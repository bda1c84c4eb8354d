"""Where downloaded and converted files are kept between runs (``$MIRROR_NEURON_CACHE``)."""

import os
from pathlib import Path

CACHE_DIR = Path(os.environ.get("MIRROR_NEURON_CACHE", Path.home() / ".cache" / "mirror_neuron"))
