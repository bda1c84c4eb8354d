"""The Neuron query step: events and weight snapshots from forward, train and inference; exact resume."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError
from mirror_neuron.runner import RunOptions, plan, run_experiment
from mirror_neuron.store import Store
from mirror_neuron.yaml_source import load_yaml_text
from tests.fixtures.interrupt import stopped_after

CONFIG = """
experiment: {{name: neuron, seed: 3}}
tracking: {{backend: none}}
data:
  id: prompts
  path: builtin:prompts
model:
  id: neuron
  type: neuron
  metagraph: {{n: 24, validators: 2, not_serving: 0.1}}
  miners: {{echo: 4, flaky: 3, slow: 2, stock_phrase: 3}}
  gating: {{type: RandomGatingModel}}
  reward: {{type: RandomRewardModel}}
  churn: {{every: 20, count: 1}}
query:
  id: q
  requires: [neuron, prompts]
  entrypoint: Neuron
{query}
"""


def run(tmp_path: Path, query: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "c.yml"
    config.write_text(CONFIG.format(query=query))
    output = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store")).records[-1].output
    weights = output.table("weights") if output.table_path("weights").exists() else None
    return output.table(), weights


def test_forward_stores_one_row_per_event_and_weight_snapshots(tmp_path: Path) -> None:
    events, weights = run(tmp_path, "  method: forward\n  topk: 6\n  passes: 2\n  weights_every: 16\n  chunk_size: 25\n")
    assert len(events) == 48 * 2
    first = events.iloc[0]
    assert len(first["uids"]) == 6 and len(first["behaviours"]) == 6 and len(first["completions"]) == 6
    assert set(first["successful_uids"]) <= set(first["uids"]) and len(first["rewards"]) == len(first["successful_uids"])
    assert "reward_raw.random" in events.columns
    assert events["step"].tolist() == list(range(96))
    sums = weights.groupby("step")["weight"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert sums.index.tolist() == [16, 32, 48, 64, 80, 96]
    final = weights[weights["step"] == 96]
    assert final.loc[final["behaviour"] == "slow", "weight"].sum() < final.loc[final["behaviour"] == "honest", "weight"].sum()
    prompts = pd.Series([row[-1] for row in events["messages"]])
    assert prompts.nunique() == 48


def test_train_and_inference(tmp_path: Path) -> None:
    events, weights = run(tmp_path / "train", "  method: train\n  steps: 12\n")
    assert len(events) <= 24 and events["question"].any() and (~events["question"]).any()
    assert weights is not None and weights["step"].max() == events["step"].max() + 1
    answers, none = run(tmp_path / "inference", "  method: inference\n")
    assert none is None and len(answers) == 48 and answers["completion"].str.len().gt(0).mean() > 0.5


def test_an_interrupted_query_resumes_to_the_same_events(tmp_path: Path) -> None:
    query = "  method: forward\n  topk: 8\n  chunk_size: 10\n  weights_every: 7\n"
    expected_events, expected_weights = run(tmp_path / "whole", query)

    with stopped_after(3, "query"):
        run(tmp_path / "split", query)
    assert Store(tmp_path / "split" / "store").partial_chunks(plan_fingerprint(tmp_path / "split")) == 3
    events, weights = run(tmp_path / "split", query)
    pd.testing.assert_frame_equal(events, expected_events)
    pd.testing.assert_frame_equal(weights, expected_weights)


def plan_fingerprint(folder: Path) -> str:
    """The query's fingerprint for the config in ``folder``."""
    experiment = parse_experiment(load_yaml_text((folder / "c.yml").read_text(), str(folder / "c.yml")))
    return plan(experiment, None)[-1].fingerprint


def test_unknown_behaviours_are_config_errors(tmp_path: Path) -> None:
    text = CONFIG.format(query="  method: forward\n").replace("echo: 4", "ecko: 4")
    experiment = parse_experiment(load_yaml_text(text, "c.yml"))
    with pytest.raises(ConfigError, match=r"c.yml: model.miners.ecko \(line 11\): unknown behaviour component 'ecko' "
                                          r"\(did you mean 'echo'\?\)"):
        plan(experiment, None)


def test_reward_stack_names_are_checked_before_running(tmp_path: Path) -> None:
    stack = "{type: RewardStack, scorers: {c: {type: ConstantRewardModle}}, filters: {blacklist: {}}}"
    text = CONFIG.format(query="  method: forward\n").replace("{type: RandomRewardModel}", stack)
    with pytest.raises(ConfigError, match=r"model.reward.scorers.c \(line 13\): unknown reward component "
                                          r"'ConstantRewardModle' \(did you mean 'ConstantRewardModel'"):
        plan(parse_experiment(load_yaml_text(text, "c.yml")), None)


def test_part_parameters_are_checked_by_name_before_running() -> None:
    """A misspelt parameter of a gating model, a scorer or a filter points at its own key."""
    gating = CONFIG.format(query="  method: forward\n").replace("{type: RandomGatingModel}",
                                                                "{type: ConstantGatingModel, valeu: 2}")
    with pytest.raises(ConfigError, match=r"model.gating.valeu \(line 12\): gating 'ConstantGatingModel' has no "
                                          r"parameter 'valeu' \(did you mean 'value'\?\)"):
        plan(parse_experiment(load_yaml_text(gating, "c.yml")), None)
    stack = "{type: RewardStack, scorers: {c: {type: ConstantRewardModel, weight: 1, value: 2}}, " \
            "filters: {relevance: {enabled: false, treshold: 0.3}}}"
    text = CONFIG.format(query="  method: forward\n").replace("{type: RandomRewardModel}", stack)
    with pytest.raises(ConfigError, match=r"model.reward.filters.relevance.treshold \(line 13\): filter 'relevance' "
                                          r"has no parameter 'treshold' \(did you mean 'threshold'\?\)"):
        plan(parse_experiment(load_yaml_text(text, "c.yml")), None)


def test_a_reward_checkpoint_is_read_from_the_config_s_folder(tmp_path: Path) -> None:
    """A relative checkpoint path in the neuron's reward means beside the config, wherever the run starts."""
    from safetensors.torch import save_file

    from mirror_neuron.neuron.reward.trlx.module import TrlxRewardModule

    folder = tmp_path / "experiment"
    folder.mkdir()
    save_file(TrlxRewardModule("tiny:gptj", seed=4).state_dict(), str(folder / "rm.safetensors"))
    reward = "{type: RewardModel, checkpoint: rm.safetensors, device: cpu}"
    config = folder / "c.yml"
    config.write_text(CONFIG.format(query="  method: forward\n  topk: 4\n").replace("{type: RandomRewardModel}", reward))
    output = run_experiment(RunOptions(config=config, out=folder / "out", store=folder / "store")).records[-1].output
    table = output.table()
    assert "reward_raw.full" in table and table["rewards"].map(len).sum() > 0


VERSION_CONFIG = """
experiment: {name: versioned, seed: 1}
tracking: {backend: none}
data: {id: squad, path: ../shared/data/squad_v2_dev_subset/squad_v2_dev_normans_rhine.jsonl,
       schema: {all: {question: question, answer: answers.text, context: context}}, sample: {method: first, n: 12}}
model:
  id: neuron
  type: neuron
  validator: openvalidators-1.1
  metagraph: {n: 60}
  miners: {slow: 10, echo: 5}
  gating: {type: RandomGatingModel}
  reward:
    scorers:
      rlhf: {type: ConstantRewardModel}
      reciprocate: {type: RandomRewardModel}
    filters: {ov_relevance: off, ov_diversity: off, nsfw: off}
query:
  id: q
  requires: [neuron, squad]
  entrypoint: Neuron
  method: train
  steps: 1
  weights_every: 3
"""


def test_a_version_run_logs_the_originals_event_fields_and_the_report_names_its_deviations(
        tmp_path: Path, shared_data: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(VERSION_CONFIG.replace("../shared/data", str(shared_data)))
    result = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))
    events = result.records[-1].output.table()
    assert events["name"].tolist()[:3] == ["augment", "followup0", "answer0"] and len(events) == 9
    # the 9 forwards of one openvalidators step are one unit: one snapshot after it, on its last event
    assert events["set_weights"].tolist() == [False] * 8 + [True]
    assert (events["step_length"] > 0).all()
    for _, event in events.iterrows():
        ok = set(event["successful_uids"])
        for column in ("rlhf_reward_model", "reciprocate_reward_model", "blacklist_filter", "task_validator_filter"):
            values = event[column]
            assert len(values) == len(event["uids"])  # one per queried uid, as the original logged them
            assert all(v == 0.0 for uid, v in zip(event["uids"], values) if uid not in ok)  # failed calls: 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "validator: openvalidators-1.1" in report
    assert "left out (not mirrored" in report and "reward.filters.nsfw" in report
    assert "stand-ins: " in report and "reward.scorers.rlhf: ConstantRewardModel" in report


def test_the_run_shows_forward_passes_done_of_the_total(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(CONFIG.format(query="  method: forward\n  topk: 6\n  chunk_size: 20\n"))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))
    lines = [line for line in stderr.getvalue().splitlines() if "forward passes" in line]
    assert re.fullmatch(r"\[3/3\] query 'q': forward passes 48/48 \(100%\), done in \d+s", lines[-1]), lines
