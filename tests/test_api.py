"""Mirror Neuron from Python: a config dict run like a YAML file, a run read back as DataFrames, a
Tournament and a RewardHackSearch without YAML, and the README's example."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest
import yaml

import mirror_neuron
from mirror_neuron.errors import ConfigError, UserError
from tests.conftest import REPO

T = TypeVar("T")

CONFIG = {
    "experiment": {"name": "dict_run", "seed": 2},
    "tracking": {"backend": "none"},
    "data": {"id": "prompts", "path": "builtin:prompts", "sample": {"method": "first", "n": 6}},
    "model": {"id": "neuron", "type": "neuron", "metagraph": {"n": 12}, "miners": {"echo": 2},
              "reward": {"type": "RandomRewardModel"}},
    "query": {"id": "forward", "requires": ["neuron", "prompts"], "entrypoint": "Neuron", "topk": 6},
}


def quietly(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` without what the run prints."""
    with contextlib.redirect_stderr(io.StringIO()):
        return call(*args, **kwargs)


def test_a_dict_runs_as_its_yaml_file_would(tmp_path: Path) -> None:
    run = quietly(mirror_neuron.run, CONFIG, out=tmp_path / "a", store=tmp_path / "store")
    assert [s.id for s in run.steps] == ["neuron", "prompts", "forward"]
    (tmp_path / "c.yml").write_text(yaml.safe_dump(CONFIG))
    from mirror_neuron.runner import RunOptions, run_experiment

    result = quietly(run_experiment, RunOptions(config=tmp_path / "c.yml", out=tmp_path / "b", store=tmp_path / "store"))
    assert [r.status for r in result.records] == ["reused"] * 3  # the same fingerprints
    assert [r.fingerprint for r in result.records] == [s.fingerprint for s in run.steps]
    index = json.loads((tmp_path / "a" / "run.json").read_text())
    assert index["config"] == "<dict>" and yaml.safe_load(index["config_text"]) == CONFIG


def test_a_run_reads_back_as_dataframes_verdicts_and_manifests(tmp_path: Path) -> None:
    run = quietly(mirror_neuron.run, CONFIG, out=tmp_path / "out", store=tmp_path / "store",
                  overrides=["query.passes=2"])
    again = mirror_neuron.load_run(tmp_path / "out")
    forward = again["forward"]
    events = forward.dataframe()
    pd.testing.assert_frame_equal(events, pd.read_parquet(tmp_path / "out" / "forward" / "data.parquet"))
    assert len(events) == 12 and set(forward.dataframes()) == {"data", "weights"}
    assert again.manifests["forward"]["config"]["passes"] == 2 == run.manifests["forward"]["config"]["passes"]
    assert forward.summary["forward_passes"] == 12.0
    assert list(again.verdicts().columns[:4]) == ["step", "subject", "verdict", "sentence"]  # none judged here
    with pytest.raises(KeyError, match="no step 'foward'.*did you mean 'forward'"):
        again["foward"]
    with pytest.raises(UserError, match="step 'forward' has no table 'wieghts' \\(did you mean 'weights'\\?\\)"):
        forward.dataframe("wieghts")


@pytest.mark.parametrize("config, message", [
    ({**CONFIG, "data": {**CONFIG["data"], "sample": {"method": "first", "n": -3}}},
     "<dict>: data.sample.n: expected greater than 0, got -3"),
    ({**CONFIG, "data": {**CONFIG["data"], "sample": {"method": "frist", "n": 3}}},
     "<dict>: data.sample.method: expected one of 'first', 'random' or 'all', got 'frist' (did you mean 'first'?)"),
    ({**CONFIG, "query": {**CONFIG["query"], "topk": object()}},
     "<dict>: query.topk: expected a string, number, boolean, null, list or mapping, got object"),
    ({**CONFIG, "query": {**CONFIG["query"], "passes": float("nan")}}, "<dict>: query.passes: expected a finite"),
    (["data"], "<dict>: the config must be a mapping of sections, got list"),
])
def test_a_bad_dict_is_refused_on_one_line_naming_the_key(config: object, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        mirror_neuron.run(config, out=tmp_path / "out", store=tmp_path / "store")
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert "(line" not in str(raised.value)  # a dict has no lines
    assert not (tmp_path / "out").exists()


def test_a_tournament_runs_without_yaml(tmp_path: Path) -> None:
    tournament = mirror_neuron.Tournament(
        neuron={"metagraph": {"n": 24}, "miners": {"length_padder": 4}, "reward": {"type": "LengthRewardModel",
                                                                                   "cap": 50}},
        steps=40, repetitions=2, resamples=500, name="padders")
    assert tournament.config()["query"] == {"id": "tournament", "requires": ["neuron"], "entrypoint": "Tournament",
                                            "steps": 40, "repetitions": 2, "resamples": 500}
    step = quietly(tournament.run, out=tmp_path / "out", store=tmp_path / "store")
    verdicts = step.dataframe("verdicts")
    assert verdicts.loc[0, "subject"] == "length_padder" and verdicts.loc[0, "verdict"] == "exploit"
    assert verdicts.loc[0, "ci_low"] > 1 and step.summary["verdicts/exploit"] == 1.0
    assert {"shares", "uid_weights", "strategies", "trajectories", "verdicts"} == set(step.dataframes())
    assert sorted(p.name for p in step.plots) == ["weight_per_uid.png", "weight_share.png"]
    with pytest.raises(ConfigError, match="^<dict>: query.steps: expected greater than 0"):
        mirror_neuron.Tournament(neuron={}, steps=0).run(out=tmp_path / "bad", store=tmp_path / "store")


def test_a_reward_hack_search_runs_without_yaml(tmp_path: Path) -> None:
    search = mirror_neuron.RewardHackSearch(
        data={"path": "builtin:prompts", "sample": {"method": "first", "n": 12}},
        reward={"type": "LengthRewardModel", "cap": 30}, transforms=["length_padding", "truncation"], max_depth=1,
        calibration=0, resamples=500)
    step = quietly(search.run, out=tmp_path / "out", store=tmp_path / "store")
    verdicts = step.dataframe("verdicts").set_index("subject")["verdict"].to_dict()
    assert verdicts == {"length_padding": "exploit", "truncation": "penalized"}
    assert step.manifest["config"]["reward"]["type"] == "LengthRewardModel"


def readme_example() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"8 events; [0-9.]+ of the weight to echo", lines[0]), lines[0]
    assert "length_padder  exploit" in result.stdout
    assert (tmp_path / "runs" / "from_python" / "report.html").is_file()
    assert (tmp_path / "runs" / "tournament" / "run.json").is_file() and (tmp_path / "runs" / "hacks").is_dir()


def test_importing_the_package_stays_light() -> None:
    code = ("import sys, mirror_neuron; assert callable(mirror_neuron.__getattr__); "
            "print(sorted(m for m in ('pandas', 'numpy', 'torch', 'mirror_neuron.api') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.strip() == "[]", result.stderr
    assert mirror_neuron.load_run is mirror_neuron.api.load_run
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        mirror_neuron.nothing  # noqa: B018
