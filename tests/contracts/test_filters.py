"""Every registered reward filter keeps the filter contract on real subnet-1 traffic (the prompts and the
miners' completions one validator logged): one multiplier in [0, 1] per completion, the same for the same
input, and a state that round-trips through JSON into a fresh filter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mirror_neuron import registry
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters import Filter
from mirror_neuron.neuron.reward.stack import RewardStack
from tests.conftest import SHARED_DATA

EVENTS = "sn1_openvalidators/events.2023-08-06.part1.parquet"
FILTERS = registry.components("filter")
Batch = tuple[Query, list[str]]
# Offline stand-ins for the filters whose default models are hub ids.
STAND_INS = {"ov_relevance": {"bert": "minilm", "mpnet": "minilm"}, "ov_diversity": {"model": "minilm"},
             "nsfw": {"path": "tiny:gpt2"}}


def build(component: registry.Component) -> Filter:
    """The filter as a config's ``reward.filters`` builds it, with default parameters (offline stand-ins)."""
    stack = RewardStack.from_config(scorers={"constant": {"type": "ConstantRewardModel"}},
                                    filters={component.name: dict(STAND_INS.get(component.name, {}))})
    [(name, fltr, enabled)] = stack.filters
    assert name == component.name and enabled and isinstance(fltr, Filter)
    return fltr


@pytest.fixture(scope="module")
def batches() -> list[Batch]:
    """Three logged events (follow-up questions and answers): their prompt and 8 of their completions (each
    cut to its first 300 characters, to keep the embedding filters quick), with a copy of one of them, an
    echo of the prompt and an empty completion added."""
    events = pd.read_parquet(SHARED_DATA / EVENTS, columns=["name", "prompt", "completions"])
    events = events[events["name"].fillna("").str.match(r"^(followup|answer)\d$")].iloc[:3]
    assert len(events) == 3
    result = []
    for event in events.itertuples():
        completions = [c[:300] for c in event.completions if c][:8]
        assert len(completions) == 8
        prompt = event.prompt[:300]
        query = Query(("system", "user"), ("You are a helpful assistant.", prompt),
                      question=event.name.startswith("followup"))
        result.append((query, [*completions, completions[0], prompt, ""]))
    return result


@pytest.fixture(scope="module")
def masks(batches: list[Batch]) -> dict[str, list[np.ndarray]]:
    """Each filter's masks of the batches, in order, by one fresh filter."""
    result = {}
    for component in FILTERS:
        fltr = build(component)
        result[component.name] = [fltr(query, completions) for query, completions in batches]
    return result


@pytest.mark.parametrize("component", FILTERS, ids=lambda c: c.name)
def test_one_multiplier_in_0_1_per_completion(component: registry.Component, batches: list[Batch],
                                              masks: dict[str, list[np.ndarray]]) -> None:
    for (_, completions), mask in zip(batches, masks[component.name], strict=True):
        assert isinstance(mask, np.ndarray) and mask.shape == (len(completions),)
        assert np.isfinite(mask).all() and ((mask >= 0) & (mask <= 1)).all()
    query = batches[0][0]
    assert build(component)(query, []).shape == (0,)


@pytest.mark.parametrize("component", FILTERS, ids=lambda c: c.name)
def test_the_same_input_gives_the_same_masks(component: registry.Component, batches: list[Batch],
                                             masks: dict[str, list[np.ndarray]]) -> None:
    again = build(component)
    for (query, completions), mask in zip(batches, masks[component.name], strict=True):
        np.testing.assert_array_equal(again(query, completions), mask)


@pytest.mark.parametrize("component", FILTERS, ids=lambda c: c.name)
def test_state_round_trips_through_json_into_a_fresh_filter(component: registry.Component, batches: list[Batch],
                                                            masks: dict[str, list[np.ndarray]]) -> None:
    """A filter restored from the state after the first batch masks the later ones as the one that went on."""
    original = build(component)
    original(*batches[0])
    state = json.loads(json.dumps(original.get_state()))
    copy = build(component)
    copy.set_state(state)
    assert json.loads(json.dumps(copy.get_state())) == state
    for (query, completions), mask in zip(batches[1:], masks[component.name][1:], strict=True):
        np.testing.assert_array_equal(copy(query, completions), mask)


def test_the_masks_of_real_traffic_are_not_all_ones(masks: dict[str, list[np.ndarray]]) -> None:
    """The added copy, echo and empty completion are caught by some filter: the contract is not vacuous.
    Filters running on stand-in models (a tiny random classifier, MiniLM under BERT's bound) are left out:
    their decisions on real traffic say nothing of the originals'."""
    judged = [name for name in masks if not build(registry.get("filter", name)).stand_ins()]
    caught = np.min([np.concatenate(masks[name]) for name in judged], axis=0)
    assert caught.min() == 0.0 and caught.max() == 1.0
