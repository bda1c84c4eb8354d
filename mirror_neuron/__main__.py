"""``python -m mirror_neuron``."""

import sys

from mirror_neuron.cli import main

sys.exit(main())
