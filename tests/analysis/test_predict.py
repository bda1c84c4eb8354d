"""Cross-validated predictions judge targets as a person would: length-driven, beyond length, or not
predictable; folds never split a prompt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.analysis.estimators import build
from mirror_neuron.analysis.features import get
from mirror_neuron.analysis.predict import Design, Settings, Task, evaluate, splits


def nq_answers(shared_data: Path, n: int = 240) -> tuple[list[str], list[str]]:
    """Real NQ-open questions, each with a completion of varied length built from its own answer."""
    rows = [json.loads(line) for line in (shared_data / "nq_open" / "NQ-open.dev.jsonl").open()][:n]
    rng = np.random.default_rng(0)
    completions = [" ".join([row["answer"][0]] * int(rng.integers(1, 12))) for row in rows]
    return [row["question"] for row in rows], completions


def task(y: np.ndarray, x: dict[str, np.ndarray], lengths: np.ndarray, groups: np.ndarray,
         estimator: str = "Ridge") -> Task:
    blocks, start = {}, 0
    for name, values in x.items():
        blocks[name] = slice(start, start + values.shape[1])
        start += values.shape[1]
    return Task("target", "reward", y, Design(np.hstack(list(x.values())), blocks),
                Design(lengths[:, None], {"completion_length": slice(0, 1)}), groups, build(estimator, {}), "model")


SETTINGS = Settings(folds=5, bootstrap=300, repeats=3, seed=0)


def test_a_reward_that_pays_for_length_is_called_length_driven(shared_data: Path) -> None:
    questions, completions = nq_answers(shared_data)
    lengths = np.array(get("completion_length").compute({"completion": completions}))
    words = np.array(get("completion_num_words").compute({"completion": completions}))
    y = lengths / 100 + np.random.default_rng(1).normal(0, 0.05, len(lengths))
    outcome = evaluate(task(y, {"completion_num_words": words[:, None]}, lengths, np.array(questions)), SETTINGS)
    assert outcome.verdict.verdict == "length"
    assert outcome.verdict.sentence.startswith("Completion length alone explains")
    assert outcome.verdict.evidence["baseline_low"] > 0.8
    assert {row["model"] for row in outcome.metrics} == {"model", "length_baseline"}
    assert all(row["r2_low"] <= row["r2"] <= row["r2_high"] for row in outcome.metrics)


def test_a_reward_driven_by_something_else_is_found_beyond_length(shared_data: Path) -> None:
    questions, completions = nq_answers(shared_data)
    lengths = np.array(get("completion_length").compute({"completion": completions}))
    marker = np.random.default_rng(2).integers(0, 2, len(lengths)).astype(float)
    y = marker + np.random.default_rng(3).normal(0, 0.1, len(lengths))
    outcome = evaluate(task(y, {"marker": marker[:, None], "completion_length": lengths[:, None]}, lengths,
                            np.array(questions)), SETTINGS)
    assert outcome.verdict.verdict == "beyond_length"
    importance = {row["input"]: row["importance"] for row in outcome.importance}
    assert importance["marker"] > 0.5 > abs(importance["completion_length"])


def test_noise_is_unpredictable(shared_data: Path) -> None:
    questions, completions = nq_answers(shared_data)
    lengths = np.array([float(len(c)) for c in completions])
    y = np.random.default_rng(4).normal(size=len(lengths))
    outcome = evaluate(task(y, {"completion_length": lengths[:, None]}, lengths, np.array(questions)), SETTINGS)
    assert outcome.verdict.verdict == "unpredictable"
    assert "look for other drivers" in outcome.verdict.sentence


def test_folds_keep_each_prompt_on_one_side() -> None:
    groups = np.repeat([f"prompt {i}" for i in range(30)], 4)
    folds = splits(groups, 5, seed=0)
    assert len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(len(groups)))


def test_a_classifier_on_a_continuous_target_is_refused() -> None:
    y = np.linspace(0, 1, 50)
    x = y[:, None]
    with pytest.raises(ValueError, match="is a classifier, but 'reward' has 50 distinct values"):
        evaluate(task(y, {"x": x}, y, np.arange(50).astype(str), "LogisticRegression"), SETTINGS)
