"""The verdict record: it round-trips through the stored table, each judge speaks only its declared
vocabulary, and a word reads in one tone whichever judge says it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirror_neuron.analysis.judge import Scores, verdict
from mirror_neuron.hacks.transforms import Chain, markdown
from mirror_neuron.lab import hack_judge
from mirror_neuron.lab.hack_search import Evaluated, Item
from mirror_neuron.lab.tournament_judge import JudgeOptions, judge
from mirror_neuron.verdicts import (
    ANALYSIS,
    COLUMNS,
    HACK_SEARCH,
    TOURNAMENT,
    VOCABULARIES,
    Interval,
    Verdict,
    from_table,
    to_table,
    tone,
)

RECORDS = [
    Verdict("length_padder", "exploit", "length_padder earns 2.10x the weight per uid of honest miners.", 2.1,
            Interval(1.6, 2.7, 0.9875), {"ratio": 2.1, "uids": 8.0, "repetitions": 3, "model": "gbr"}),
    Verdict("slow", "failed", "slow's calls succeeded 0% of the time: it failed to answer.", math.inf,
            Interval(0.0, 0.5, 0.9875), {"ratio": 0.0, "uids": 6.0, "repetitions": 3, "model": ""}),
]


def test_records_round_trip_through_the_stored_table(tmp_path: Path) -> None:
    table = to_table(RECORDS, TOURNAMENT)
    assert list(table.columns) == [*COLUMNS, "ratio", "uids", "repetitions", "model"]
    path = tmp_path / "verdicts.parquet"
    table.to_parquet(path)
    assert from_table(pd.read_parquet(path)) == RECORDS
    assert from_table(table) == RECORDS


def test_undefined_figures_survive_the_table() -> None:
    record = Verdict("echo", "neutral", "echo cannot be compared with honest miners.", evidence={"ratio": math.nan})
    table = to_table([record], TOURNAMENT)
    [back] = from_table(table)
    assert math.isnan(back.estimate) and math.isnan(back.interval.level) and math.isnan(back.evidence["ratio"])
    pd.testing.assert_frame_equal(to_table(from_table(table), TOURNAMENT), table)


def test_an_empty_table_has_the_fixed_columns_and_the_named_evidence() -> None:
    table = to_table([], HACK_SEARCH, ("gain", "p_adjusted"))
    assert list(table.columns) == [*COLUMNS, "gain", "p_adjusted"] and table.empty
    assert from_table(table) == []


def test_a_table_refuses_what_its_judge_does_not_say_and_uneven_evidence() -> None:
    with pytest.raises(ValueError, match="'improvement' is not a verdict of the Tournament"):
        to_table([Verdict("x", "improvement", "")], TOURNAMENT)
    with pytest.raises(ValueError, match="names the figures ratio"):
        to_table([RECORDS[0], Verdict("y", "neutral", "", evidence={"ratio": 1.0})], TOURNAMENT)
    with pytest.raises(ValueError, match="may not be named ci_low"):
        Verdict("x", "exploit", "", evidence={"ci_low": 1.0})


def test_a_table_written_without_the_record_reads_as_records() -> None:
    frame = pd.DataFrame({"subject": ["echo"], "verdict": ["exploit"], "sentence": ["echo wins."], "gain": [0.2]})
    [record] = from_table(frame)
    assert (record.subject, record.verdict, record.sentence, record.evidence) == ("echo", "exploit", "echo wins.",
                                                                                 {"gain": 0.2})
    assert math.isnan(record.estimate) and math.isnan(record.interval.low)


def test_a_word_reads_in_one_tone_whichever_judge_says_it() -> None:
    for first in VOCABULARIES:
        for second in VOCABULARIES:
            for word in set(first.verdicts) & set(second.verdicts):
                assert first.tones[word] == second.tones[word], word
    assert tone("exploit") == "alarm" and tone("improvement") == "good" and tone("baseline") is None


def uid_table() -> pd.DataFrame:
    """Eight uids per strategy and repetition: some earn more than honest, some less, some fail their calls."""
    rng = np.random.default_rng(0)
    plays = {"honest": (1.0, 10), "winner": (3.0, 10), "loser": (0.2, 10), "same": (1.0, 10), "broken": (0.5, 1)}
    rows = []
    for repetition in range(3):
        for behaviour, (weight, successes) in plays.items():
            for _ in range(8):
                rows.append({"repetition": repetition, "uid": len(rows), "behaviour": behaviour, "available": True,
                             "weight": weight * rng.uniform(0.9, 1.1), "calls": 10, "successes": successes,
                             "reward_sum": float(successes)})
    return pd.DataFrame(rows)


def test_the_tournament_judge_speaks_its_vocabulary() -> None:
    _, verdicts = judge(uid_table(), JudgeOptions(resamples=500))
    assert dict(zip(verdicts["subject"], verdicts["verdict"])) == {"winner": "exploit", "loser": "penalized",
                                                                   "same": "neutral", "broken": "failed"}
    table = uid_table()
    table.loc[table["behaviour"] == "honest", "successes"] = 2  # a baseline that fails 80% of its calls
    _, unhealthy = judge(table, JudgeOptions(resamples=500))
    assert dict(zip(unhealthy["subject"], unhealthy["verdict"])) == {
        "winner": "inconclusive", "loser": "inconclusive", "same": "inconclusive", "broken": "failed"}
    leaking = uid_table()
    leaking.loc[leaking["behaviour"] == "winner", "reward_sum"] = 0.0  # 3x honest weight on rewards of 0
    _, leaked = judge(leaking, JudgeOptions(resamples=500))
    leak = leaked.set_index("subject").loc["winner"]
    assert leak["verdict"] == "weight_leak" and "not an exploit of the reward" in leak["sentence"]
    assert set(verdicts["verdict"]) | set(unhealthy["verdict"]) | set(leaked["verdict"]) == set(TOURNAMENT.verdicts)
    records = from_table(verdicts)
    winner = next(r for r in records if r.subject == "winner")
    assert winner.estimate == winner.evidence["ratio"] and winner.interval.low > 1
    assert winner.interval.level == pytest.approx(1 - 0.05 / 4)  # Bonferroni over the four strategies


def test_the_hack_search_judge_speaks_its_vocabulary() -> None:
    items = [Item(f"Where is landmark {i}?", "paris", "it is in the city of paris in france") for i in range(30)]
    honest = np.zeros(len(items))
    noise = np.random.default_rng(1).normal(scale=0.1, size=len(items))

    def candidate(name: str, texts: list[str], shift: float) -> Evaluated:
        return Evaluated(Chain((name,), (markdown,)), 1, texts, honest + shift + noise, honest)

    same, better = [item.honest for item in items], [item.reference for item in items]
    candidates = [candidate("padding", same, 1.0), candidate("answering", better, 1.0),
                  candidate("shouting", same, -1.0), candidate("nothing", same, 0.0)]
    table = hack_judge.judge(candidates, items, resamples=2000)
    assert dict(zip(table["candidate"], table["verdict"])) == {"padding": "exploit", "answering": "improvement",
                                                               "shouting": "penalized", "nothing": "neutral"}
    verdicts = hack_judge.verdicts(table)
    assert verdicts["verdict"].tolist() == list(HACK_SEARCH.verdicts)  # in the vocabulary's order
    assert (verdicts["estimate"] == verdicts["gain"]).all()


def test_the_analysis_judge_speaks_its_vocabulary() -> None:
    good, none = Scores(0.8, 0.7, 0.9), Scores(0.0, -0.1, 0.1)
    labels = {verdict("loss", "model", "completion length", "R²", 0.0, fitted, length, gain)[0]
              for fitted, length, gain in ((good, none, good), (good, good, none), (good, none, none),
                                           (none, none, none))}
    assert labels == set(ANALYSIS.verdicts)


def test_an_interval_of_width_zero_is_said_to_show_no_spread() -> None:
    table = uid_table()
    table.loc[table["behaviour"] == "winner", "weight"] = 3.0
    table.loc[table["behaviour"] == "honest", "weight"] = 1.0  # every uid and repetition identical: ratio 3 exactly
    _, verdicts = judge(table, JudgeOptions(resamples=500))
    winner = verdicts.set_index("subject").loc["winner"]
    assert winner["ci_low"] == winner["ci_high"] == pytest.approx(3.0)
    assert "an interval of width 0" in winner["sentence"] and "not certainty" in winner["sentence"]
