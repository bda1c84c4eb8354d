"""The shipped sweeps: every point validates, and the steps the points share have one fingerprint."""

from __future__ import annotations

from mirror_neuron.sweep.run import validate_sweep
from tests.conftest import REPO

ECHO_FILTERS = REPO / "configs" / "sweeps" / "echo_filters.yml"


def test_echo_filters_is_filters_x_rewards_x_seeds_over_one_data_step() -> None:
    sweep, points = validate_sweep(ECHO_FILTERS, None, [])
    assert sweep.name == "echo-filters" and len(points) == 8
    assert {tuple(point.point.values) for point in points} == {
        ("model.reward.filters", "model.reward.scorers", "experiment.seed")}
    fingerprints = [{step.entry.id: step.fingerprint for step in point.steps} for point in points]
    assert len({f["prompts"] for f in fingerprints}) == 1  # the same prompts under every seed: computed once
    assert len({f["tournament"] for f in fingerprints}) == 8
    combinations = {(str(p.point.values["model.reward.filters"]), str(p.point.values["model.reward.scorers"]))
            for p in points}
    assert len(combinations) == 4
