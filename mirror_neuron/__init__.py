"""Mirror Neuron: tracked, reproducible experiments on a simulated text-prompting validator.

From Python (see :mod:`mirror_neuron.api`): ``run(config_dict)``, ``load_run("runs/x")``, ``Tournament(...)``
and ``RewardHackSearch(...)``. They are imported on first use, so ``import mirror_neuron`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["RewardHackSearch", "Tournament", "load_run", "run"]  # noqa: F822 (given by __getattr__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mirror_neuron import api

        return getattr(api, name)
    raise AttributeError(f"module 'mirror_neuron' has no attribute '{name}'")
