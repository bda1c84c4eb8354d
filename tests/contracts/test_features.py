"""Every registered text feature keeps the feature contract on real texts: one finite float per row,
the same twice, computed by the function the registry names, with a missing text counted as empty."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import registry
from mirror_neuron.analysis.features import TEXTS, get
from mirror_neuron.steps.data.schema import split_dialogue

ROWS = 6
FEATURES = registry.components("feature")


def first_records(path: Path, n: int = ROWS) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(next(handle)) for _ in range(n)]


@pytest.fixture
def columns(shared_data: Path) -> dict[str, list[str | None]]:
    """Six real texts for each text a feature may measure: NQ questions, logged subnet-1 completions,
    GSM8K worked answers, and the final turns of HH-RLHF chosen and rejected dialogues."""
    events = pd.read_parquet(shared_data / "sn1_openvalidators/events.2023-08-06.part1.parquet",
                             columns=["completions"]).dropna()
    completions = [c for event in events["completions"] for c in event if c][:ROWS]
    pairs = first_records(shared_data / "hh_rlhf/helpful-base.test.jsonl.gz")
    texts: dict[str, list[str | None]] = {
        "question": [r["question"] for r in first_records(shared_data / "nq_open/NQ-open.dev.jsonl")],
        "completion": completions,
        "answer": [r["answer"] for r in first_records(shared_data / "gsm8k/test.jsonl")],
        "chosen": [split_dialogue(r["chosen"])[1] for r in pairs],
        "rejected": [split_dialogue(r["rejected"])[1] for r in pairs],
    }
    assert set(texts) == set(TEXTS) and all(len(values) == ROWS and all(values) for values in texts.values())
    return texts


@pytest.mark.parametrize("component", FEATURES, ids=lambda c: c.name)
def test_one_finite_value_per_real_text(component: registry.Component,
                                        columns: dict[str, list[str | None]]) -> None:
    feature = get(component.name)
    assert feature.texts and set(feature.texts) <= set(TEXTS)
    values = feature.compute(columns)
    assert len(values) == ROWS and all(isinstance(v, float) and math.isfinite(v) for v in values)
    assert feature.compute(columns) == values
    function = component.load()
    assert [function(*row) for row in zip(*(columns[text] for text in feature.texts))] == values


@pytest.mark.parametrize("component", FEATURES, ids=lambda c: c.name)
def test_a_missing_text_counts_as_empty(component: registry.Component) -> None:
    feature = get(component.name)
    missing = feature.compute({text: [None, float("nan")] for text in feature.texts})
    assert missing == feature.compute({text: ["", ""] for text in feature.texts})
    assert all(math.isfinite(v) for v in missing)
