"""The replay of the 54 logged openvalidators forward steps: the rule-based filters of v1.1.3 agree with every
logged decision on non-empty completions, and the logged rewards follow from the logged components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.lab.replay import (
    formula_difference,
    replay,
    replayed_values,
    report_lines,
    succeeded,
    version_filters,
    version_weights,
)
from mirror_neuron.neuron.reward.filters import OpenValidatorsBlacklist, OpenValidatorsTaskValidator
from mirror_neuron.steps.data.events import LoggedEvent, read_events
from tests.conftest import SHARED_DATA

EVENTS = SHARED_DATA / "sn1_openvalidators" / "events.2023-08-06.part1.parquet"


@pytest.fixture(scope="module")
def events() -> list[LoggedEvent]:
    return read_events(EVENTS)


def test_the_log_reads_as_forward_steps_in_order(events: list[LoggedEvent]) -> None:
    # 57 rows: 3 weight-setting events and 6 rounds' steps (one round cut short), in _step order
    assert len(events) == 54
    assert [e.step for e in events] == sorted(e.step for e in events)
    assert [e.name for e in events[:9]] == ["augment", "followup0", "answer0", "followup1", "answer1", "followup2",
                                            "answer2", "followup3", "answer3"]
    assert all(len(e.completions) == 50 == len(e.uids) for e in events)
    assert events[1].question and not events[2].question


def test_rule_filters_agree_with_every_logged_decision_on_non_empty_completions(events) -> None:
    result = replay(events, [OpenValidatorsBlacklist(), OpenValidatorsTaskValidator("1.1")], "1.1")
    by_column = {c.column: c for c in result.comparisons}
    for column in ("blacklist_filter", "task_validator_filter"):
        assert (by_column[column].agree, by_column[column].total) == (1193, 1193)
    assert by_column["relevance_filter"].off and by_column["nsfw_filter"].off
    assert result.formula_difference < 1e-6
    lines = report_lines(result)
    assert lines[0].startswith("blacklist_filter: agree 1193/1193")
    assert "relevance_filter: off: not checked" in lines
    assert lines[-1].startswith("reward formula: largest difference")


def test_v1_2_keywords_disagree_with_the_log(events) -> None:
    """The logged decisions tell the version: v1.1.8's longer keyword lists zero completions v1.1.3 kept."""
    result = replay(events, [OpenValidatorsTaskValidator("1.2")], "1.1")
    [task] = [c for c in result.comparisons if c.column == "task_validator_filter"]
    assert task.agree < task.total


def test_the_blacklist_hears_each_pairs_chosen_texts_until_the_next_forward(events) -> None:
    """After a round, the blacklist holds its four kept questions and answers (the logged ``best``); the next
    ``augment`` step clears them. (No completion of this log repeats a kept text: both ways agree here.)"""
    blacklist = OpenValidatorsBlacklist()
    replayed_values(events[:9], [blacklist])
    assert blacklist.questions == [e.best for e in events[1:9:2]]
    assert blacklist.answers == [e.best for e in events[2:9:2]]
    replayed_values(events[9:10], [blacklist])
    assert events[9].name == "augment" and blacklist.questions == blacklist.answers == []


def test_empty_completions_succeeded_when_they_took_9_to_10_seconds(events) -> None:
    # 1507 empty completions; the validator scored 106 of them (blacklist 1). All 1296 at the 10 s timeout and
    # all 104 under 9 s were zeroed; 107 took 9-10 s, of which 106 were scored (one at 9.82 s was not).
    result = replay(events, [OpenValidatorsBlacklist()], "1.1")
    assert (result.empties.total, result.empties.scored, result.empties.predicted, result.empties.agree) == (
        1507, 106, 107, 1506)
    event = events[0]
    ok = succeeded(event)
    assert all(ok[i] for i, c in enumerate(event.completions) if c.strip())


def test_the_formula_check_fails_with_other_weights(events) -> None:
    weights = version_weights("1.1")  # the preset's: RLHF 0.6, reciprocate 0.4
    assert weights == {"rlhf_reward_model": 0.6, "reciprocate_reward_model": 0.4}
    assert formula_difference(events, weights) < 1e-6
    assert formula_difference(events, {"rlhf_reward_model": 0.4, "reciprocate_reward_model": 0.6}) > 1e-3


def test_model_filters_replay_with_stand_ins(events) -> None:
    """Two steps through every v1.1 filter on MiniLM: soft diversity values correlate with the log."""
    filters = version_filters("1.1", stand_in="minilm")  # the preset's filters; NSFW left out
    assert [f.name for f in filters] == ["ov_blacklist", "ov_task_validator", "ov_relevance", "ov_diversity"]
    assert all(f.params().get("version", "1.1") == "1.1" for f in filters)
    assert [f.name for f in version_filters("1.2", nsfw="tiny:gpt2")][-1] == "nsfw"
    result = replay(events[1:3], filters, "1.1")
    diversity = next(c for c in result.comparisons if c.column == "diversity_reward_model")
    assert diversity.spearman is not None and diversity.spearman > 0.5
    assert result.stand_ins == {"bert-base-uncased": "sentence-transformers/all-MiniLM-L6-v2",
                                "sentence-transformers/all-mpnet-base-v2": "sentence-transformers/all-MiniLM-L6-v2"}
    assert any(line.startswith("stand-ins: bert-base-uncased -> ") for line in report_lines(result))


def test_a_file_without_the_event_columns_is_a_user_error(tmp_path) -> None:
    path = tmp_path / "events.parquet"
    pd.DataFrame({"name": ["augment"], "prompt": ["p"]}).to_parquet(path)
    with pytest.raises(UserError, match="missing columns: _step, best"):
        read_events(path)
    frame = pd.read_parquet(EVENTS).iloc[:3]
    frame.to_parquet(tmp_path / "three.parquet")
    assert [e.name for e in read_events(tmp_path / "three.parquet")] == ["augment", "followup0"]
    assert np.isfinite(read_events(tmp_path / "three.parquet")[0].rewards).all()
