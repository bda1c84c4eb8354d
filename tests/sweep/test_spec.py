"""The sweep block: validation, and its expansion into points (grid x zip x seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.sweep.spec import SweepConfig, expand, read_sweep
from tests.conftest import write_config
from tests.fixtures.slow_step import slow_echo_config


def test_grid_zip_and_seeds_multiply_out_in_order() -> None:
    spec = SweepConfig(grid={"a": [1, 2], "b.c": [{}, None, "x"]}, zip={"z1": [10, 20], "z2": ["p", "q"]}, seeds=2)
    points = expand(spec, "s", base_seed=5)
    assert len(points) == 2 * 3 * 2 * 2
    assert [p.index for p in points] == list(range(24))
    assert points[0].values == {"a": 1, "b.c": {}, "z1": 10, "z2": "p", "experiment.seed": 5}
    assert points[1].values["experiment.seed"] == 6  # the seed varies fastest, then the zip's rows
    assert points[2].values == {"a": 1, "b.c": {}, "z1": 20, "z2": "q", "experiment.seed": 5}
    assert points[-1].values == {"a": 2, "b.c": "x", "z1": 20, "z2": "q", "experiment.seed": 6}
    assert {(p.values["z1"], p.values["z2"]) for p in points} == {(10, "p"), (20, "q")}  # zipped, not crossed
    assert points[5].assignments == ['a=1', 'b.c=null', 'z1=10', 'z2="p"', 'experiment.seed=6']
    assert points[5].name == "point-005" and points[5].experiment_name == "s.point-005"


def test_a_grid_alone_and_seeds_alone() -> None:
    assert [p.values for p in expand(SweepConfig(grid={"k": [1, 2, 3]}), "s")] == [{"k": 1}, {"k": 2}, {"k": 3}]
    assert [p.values for p in expand(SweepConfig(seeds=3), "s")] == [{"experiment.seed": s} for s in range(3)]


@pytest.mark.parametrize("block, problem", [
    ("{}", "a sweep needs a grid, a zip or seeds"),
    ("{grid: {a: []}}", "'a' has no values"),
    ("{zip: {a: [1, 2], b: [1]}}", "must have the same length (a: 2, b: 1)"),
    ("{grid: {a: [1]}, zip: {a: [2]}}", "'a' is in both grid and zip"),
    ("{grid: {experiment.seed: [1, 2]}, seeds: 2}", "seeds sets experiment.seed"),
    ("{grid: {a: [1]}, sedes: 2}", "unknown key 'sedes' (did you mean 'seeds'?)"),
    ("{seeds: 0}", "sweep.seeds (line"),
])
def test_a_bad_sweep_block_is_one_line_naming_it(tmp_path: Path, block: str, problem: str) -> None:
    config = write_config(tmp_path / "c.yml", slow_echo_config("s") + f"sweep: {block}\n")
    with pytest.raises(UserError, match="c.yml: sweep") as raised:
        read_sweep(config, None, [])
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_too_many_points_are_refused_before_any_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRROR_NEURON_LIMITS", "points=100")
    block = "sweep: {grid: {a: [1, 2, 3, 4, 5]}, seeds: 30}\n"
    config = write_config(tmp_path / "c.yml", slow_echo_config("s") + block)
    with pytest.raises(UserError, match="sweep: 150 points; expected at most 100 .limit 'points'"):
        read_sweep(config, None, [])


def test_a_grid_file_sweeps_a_config_without_a_block(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", slow_echo_config("base"))
    grid = write_config(tmp_path / "grid.yml", "grid: {query.delay_s: [0.0, 0.1]}\nseeds: 2\n")
    sweep = read_sweep(config, grid, ["experiment.seed=7"])
    assert sweep.name == "base-sweep"
    assert [p.values["experiment.seed"] for p in sweep.points] == [7, 8, 7, 8]  # from the overridden seed
    with pytest.raises(UserError, match="no sweep block"):
        read_sweep(config, None, [])
