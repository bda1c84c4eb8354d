"""The shipped network configs are valid as they stand and say what they reproduce or find."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_neuron.runner import load_experiment, plan

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "network"


NAMES = ["collusion", "consensus_monte_carlo", "miner_tournament", "weight_copying"]


def test_there_are_the_three_reproductions_and_the_network_tournament() -> None:
    assert sorted(p.stem for p in CONFIGS.glob("*.yml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_each_config_plans_and_says_how_to_run_it(name: str) -> None:
    path = CONFIGS / f"{name}.yml"
    steps = plan(load_experiment(path, []), None)
    assert steps and all(step.fingerprint for step in steps)
    text = path.read_text()
    assert f"mirror-neuron run --config configs/network/{name}.yml --offline" in text
    assert "Expect:" in text or "Published:" in text
