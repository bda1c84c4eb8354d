"""Every registered step entrypoint keeps the step contract, on one small real experiment that holds them all:
``resolve()`` is deterministic, and a step stopped after its first stored chunk resumes to the output an
uninterrupted run gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import registry
from mirror_neuron.config import parse_experiment
from mirror_neuron.runner import PlannedStep, RunOptions, plan, run_experiment
from mirror_neuron.store import StepOutput, Store
from mirror_neuron.yaml_source import load_yaml_text
from tests.conftest import SHARED_DATA
from tests.fixtures.interrupt import stopped_after
from tests.fixtures.runs import Run, run_config

STEP_FAMILIES = ("data", "model", "query", "analysis")
CONFIG = f"""\
experiment: {{name: contract, seed: 4}}
tracking: {{backend: none}}
data:
  id: nq
  path: {SHARED_DATA / "nq_open" / "NQ-open.dev.jsonl"}
  schema: {{dev: {{question: question, answer: answer}}}}
  sample: {{method: first, n: 12}}
model:
  - id: neuron
    type: neuron
    metagraph: {{n: 16}}
    miners: {{length_padder: 3, echo: 3}}
    reward: {{type: LengthRewardModel, cap: 50}}
    training_topk: 8
  - id: scorer
    type: reward_model
    path: tiny:gptj
    device: cpu
  - id: net
    type: network
    metagraph: {{n: 12}}
    miners: {{echo: 3}}
    validators: {{honest: {{count: 2, topk: 4}}, copier: {{strategy: copier}}}}
    chain: {{tempo: 4, forward_passes_per_block: 1, weights_set_rate_limit: 5, max_weight_limit: 65535}}
query:
  - id: events
    requires: [neuron, nq]
    entrypoint: Neuron
    method: forward
    topk: 6
    chunk_size: 4
  - id: tournament
    requires: [neuron, nq]
    entrypoint: Tournament
    method: forward
    topk: 8
    steps: 12
    repetitions: 2
    record_every: 6
    resamples: 200
  - id: hacks
    requires: [nq]
    entrypoint: RewardHackSearch
    reward: {{type: LengthRewardModel, cap: 50}}
    transforms: [length_padding, truncation]
    calibration: 0
    resamples: 200
  - id: scores
    requires: [scorer, nq]
    entrypoint: RewardModel
    chunk_size: 4
    chunk_rows: 4
  - id: network
    requires: [net, nq]
    entrypoint: Network
    epochs: 4
    chunk_epochs: 2
    warmup: 1
    repetitions: 2
  - id: monte_carlo
    entrypoint: ConsensusMonteCarlo
    vary: weight_stddev
    values: [0.0]
    grid_points: 5
    workers: 1
analysis:
  id: drivers
  requires: [events]
  compute: [completion_length, question_length]
  estimators:
    - {{id: forest, name: RandomForestRegressor, args: {{n_estimators: 5, random_state: 0}}}}
  predict:
    - {{target: reward, x: [completion_length], estimator: forest}}
  bootstrap: 50
"""
# registered entrypoint -> the entry of CONFIG that exercises it
CASES = {"Dataset": "nq", "neuron": "neuron", "reward_model": "scorer", "Neuron": "events",
         "Tournament": "tournament", "RewardHackSearch": "hacks", "RewardModel": "scores", "analysis": "drivers",
         "network": "net", "Network": "network", "ConsensusMonteCarlo": "monte_carlo"}
STEPS = [component for family in STEP_FAMILIES for component in registry.components(family)]


def planned(step_id: str) -> PlannedStep:
    """The planned entry ``step_id`` of :data:`CONFIG`, parsed and resolved afresh."""
    steps = plan(parse_experiment(load_yaml_text(CONFIG, "c.yml")), None)
    return next(step for step in steps if step.entry.id == step_id)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_config(tmp_path_factory.mktemp("whole"), CONFIG)


def test_every_registered_step_has_a_case() -> None:
    assert {component.name for component in STEPS} == set(CASES)


@pytest.mark.parametrize("component", STEPS, ids=lambda c: f"{c.family}:{c.name}")
def test_resolve_is_deterministic(component: registry.Component, whole: Run) -> None:
    first, second = planned(CASES[component.name]), planned(CASES[component.name])
    assert first.entry.entrypoint in (component.name, component.target, *component.aliases)
    assert first.resolved == second.resolved and first.fingerprint == second.fingerprint
    assert first.entry.step.resolve() == first.entry.step.resolve() == first.resolved
    [record] = [r for r in whole.result.records if r.id == first.entry.id]
    assert record.fingerprint == first.fingerprint  # what a run stores is what planning said


@pytest.mark.parametrize("component", STEPS, ids=lambda c: f"{c.family}:{c.name}")
def test_a_step_stopped_after_one_chunk_resumes_to_the_same_output(component: registry.Component, whole: Run,
                                                                   tmp_path: Path) -> None:
    step = planned(CASES[component.name])
    name = f"{step.entry.section} '{step.entry.id}'"
    store = tmp_path / "store"  # every other output is already there: only this step runs
    shutil.copytree(whole.result.out.parent / "store", store,
                    ignore=shutil.ignore_patterns(f"{step.fingerprint[:20]}*"))
    options = RunOptions(config=whole.result.out.parent / "c.yml", out=tmp_path / "out", store=store,
                         steps=step.entry.id)
    with stopped_after(1, name):
        run_experiment(options)
    assert Store(store).partial_chunks(step.fingerprint) == 1 and Store(store).finished(step.fingerprint) is None
    record = run_experiment(options).records[-1]
    assert (record.id, record.status, record.fingerprint) == (step.entry.id, "resumed", step.fingerprint)
    expected = next(r.output for r in whole.result.records if r.id == step.entry.id)
    assert_same_output(record.output, expected)


def assert_same_output(got: StepOutput, expected: StepOutput) -> None:
    """The same tables, row for row, and the same other files (plots by name: their bytes may vary)."""
    assert got.rows == expected.rows and got.rows
    for table in expected.rows:
        pd.testing.assert_frame_equal(got.table(table), expected.table(table))
    assert files(got) == files(expected)


def files(output: StepOutput) -> dict[str, str]:
    """The output's files by path, with their sha256 (PNG plots by path only)."""
    return {f["path"]: "" if f["path"].endswith(".png") else f["sha256"] for f in output.manifest["files"]}
