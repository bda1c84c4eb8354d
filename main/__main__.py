"""The original tool's call, ``python3 main --config FILE [--offline]``, from the repository root."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mirror_neuron.cli import COMMANDS, main  # noqa: E402

arguments = sys.argv[1:]
if not arguments or arguments[0] not in COMMANDS and arguments[0] not in ("-h", "--help", "--version"):
    arguments = ["run", *arguments]
sys.exit(main(arguments))
