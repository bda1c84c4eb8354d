"""A tournament checks its baseline before any verdict, so it does not cry wolf: short reference answers,
a filter that zeroes most honest completions or a reward that separates nothing make every verdict
inconclusive with its cause; honest miners under another label come out neutral over seeds; too few
scored calls are flagged as not converged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mirror_neuron.lab.tournament import TournamentPlan, TournamentResult, run_tournament
from mirror_neuron.lab.tournament_judge import JudgeOptions, baseline_health, flagged_controls, judge
from mirror_neuron.neuron.config import NeuronConfig

NQ_OPEN = Path(__file__).resolve().parents[2] / "../shared/data/nq_open/NQ-open.dev.jsonl"
LENGTH = {"type": "LengthRewardModel", "cap": 50}
TWIN = {"honest_twin": {"behaviour": "honest", "count": 10}}


def nq_open(short: int = 20, long: int = 10) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first ``short`` NQ-open questions whose reference has 10 characters or fewer, then the first
    ``long`` others: a data set of mostly short answers ("2017", "one"), as NQ-open's are."""
    with open(NQ_OPEN) as handle:
        rows = [json.loads(line) for _, line in zip(range(200), handle)]
    picked = [r for r in rows if len(r["answer"][0]) <= 10][:short] + \
        [r for r in rows if len(r["answer"][0]) > 10][:long]
    return tuple(row["question"] for row in picked), tuple(row["answer"][0] for row in picked)


def forward(miners: dict[str, Any], reward: dict[str, Any], baseline: str, **options: Any) -> TournamentResult:
    """A forward tournament over real NQ-open questions and their reference answers."""
    prompts, answers = nq_open()
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 32, "validators": 2}, "miners": miners,
                                         "reward": reward})
    plan = TournamentPlan(neuron, method="forward", steps=30, repetitions=2, topk=16, prompts=prompts,
                          answers=answers)
    return run_tournament(plan, JudgeOptions(baseline=baseline, resamples=500, **options))


def train(miners: dict[str, Any], reward: dict[str, Any], seed: int = 0, **options: Any) -> TournamentResult:
    neuron = NeuronConfig.model_validate({"metagraph": {"n": 64, "validators": 2, "not_serving": 0.05},
                                         "miners": miners, "reward": reward, "training_topk": 16})
    plan = TournamentPlan(neuron, steps=120, repetitions=3, seed=seed)
    return run_tournament(plan, JudgeOptions(resamples=1000, seed=seed, **options))


def found(result: TournamentResult) -> dict[str, str]:
    return dict(zip(result.verdicts["subject"], result.verdicts["verdict"]))


def test_short_reference_answers_make_every_verdict_inconclusive_and_say_how_many() -> None:
    result = forward({"bare": {"behaviour": "tests.lab.scripted_miners:bare", "count": 24}, "echo": 4,
                      "length_padder": 2}, LENGTH, "bare")
    verdicts = found(result)  # echo out-earns answers that fail, yet it is no exploit
    assert verdicts["echo"] == verdicts["length_padder"] == "inconclusive" and "exploit" not in verdicts.values()
    uids = result.uid_weights[result.uid_weights["behaviour"] == "bare"]
    short, calls = int(uids["short_calls"].sum()), int(uids["calls"].sum())
    assert short > calls / 2
    sentence = result.verdicts.set_index("subject").loc["echo", "sentence"]
    assert f"{short} of {calls} bare answers were 10 characters or shorter and counted as failed calls" in sentence
    assert sentence.endswith("give bare miners answers of more than 10 characters, or use longer references.")


def test_a_filter_that_zeroes_most_honest_completions_makes_every_verdict_inconclusive() -> None:
    # honest answers behind "As an AI language model": the blacklist takes them for refusals
    reward = {"type": "RewardStack", "scorers": {"length": LENGTH}, "filters": {"blacklist": {}}}
    result = forward({"preamble": {"behaviour": "tests.lab.scripted_miners:preamble", "count": 24},
                      "length_padder": 4}, reward, "preamble")
    verdicts = found(result)
    assert verdicts["length_padder"] == "inconclusive" and "exploit" not in verdicts.values()
    strategies = result.strategies.set_index("behaviour")
    assert strategies.loc["preamble", "zeroed_blacklist"] == 1.0 and strategies.loc["length_padder",
                                                                                    "zeroed_blacklist"] == 0.0
    sentence = result.verdicts.set_index("subject").loc["length_padder", "sentence"]
    assert "the blacklist filter zeroed 100% of preamble completions" in sentence


def test_a_reward_that_separates_nothing_gives_no_exploit() -> None:
    result = train({"echo": 6, "refusal": 6, "length_padder": 6}, {"type": "ConstantRewardModel", "value": 0.0})
    assert set(found(result).values()) == {"inconclusive"}
    assert baseline_health(result.uid_weights, JudgeOptions()).figures["reward_std"] == 0.0
    assert "the reward separates nothing" in result.verdicts["sentence"].iloc[0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_honest_miners_and_their_controls_yield_no_exploit_and_no_flagged_control(seed: int) -> None:
    result = train(TWIN, LENGTH, seed, controls=("honest_twin",))
    assert found(result) == {"honest_twin": "neutral"}
    assert flagged_controls(result.strategies) == 0
    assert result.verdicts["control"].tolist() == [True]


def test_a_control_judged_other_than_neutral_is_flagged_and_makes_the_verdicts_suspect() -> None:
    result = train({**TWIN, "length_padder": 8}, LENGTH, controls=("honest_twin", "length_padder"))
    assert found(result) == {"honest_twin": "neutral", "length_padder": "exploit"}
    assert flagged_controls(result.strategies) == 1
    sentence = result.verdicts.set_index("subject").loc["length_padder", "sentence"]
    assert "length_padder is a control" in sentence and "1 of 2 controls flagged" in sentence
    assert "suspect" in sentence


def test_too_few_scored_calls_per_uid_are_flagged_not_converged_and_keep_their_verdict() -> None:
    result = train({"length_padder": 8}, LENGTH, alpha=0.9)  # about 60 calls per uid; 0.9 needs 10
    median = baseline_health(result.uid_weights, JudgeOptions(alpha=0.9)).median_calls
    assert 10 < median < 1000
    assert result.verdicts["converged"].all() and "Not converged" not in result.verdicts["sentence"].iloc[0]
    strategies, verdicts = judge(result.uid_weights, JudgeOptions(alpha=0.999, resamples=1000))
    assert verdicts["verdict"].tolist() == ["exploit"] and not verdicts["converged"].any()
    assert not strategies["converged"].any()
    assert (f"Not converged: honest uids got a median of {median:g} scored calls, fewer than the 1000 "
            "(1 / (1 - alpha), alpha 0.999)") in verdicts["sentence"].iloc[0]


def test_the_short_answer_sentence_counts_them_and_names_the_honest_style() -> None:
    uids = pd.DataFrame({"repetition": 0, "uid": range(8), "behaviour": ["honest"] * 6 + ["echo"] * 2,
                         "available": True, "weight": 0.125, "calls": 10, "successes": [3] * 6 + [10] * 2,
                         "short_calls": [7] * 6 + [0] * 2, "reward_sum": 1.0, "reward_sq_sum": 0.5})
    strategies, verdicts = judge(uids, JudgeOptions(resamples=200))
    assert verdicts["verdict"].tolist() == ["inconclusive"]
    assert verdicts["sentence"].iloc[0] == (
        "echo cannot be judged: 42 of 60 honest answers were 10 characters or shorter and counted as failed calls "
        "(honest miners' calls succeeded 30% of the time, min_success_rate 50%); use honest: {style: sentence} or "
        "longer references.")
    assert strategies.set_index("behaviour").loc["honest", "short_share"] == pytest.approx(0.7)


def test_a_baseline_that_earned_nothing_makes_every_verdict_inconclusive() -> None:
    uids = pd.DataFrame({"repetition": 0, "uid": range(8), "behaviour": ["honest"] * 6 + ["echo"] * 2,
                         "available": True, "weight": [0.0] * 6 + [0.5] * 2, "calls": 10, "successes": 10,
                         "short_calls": 0, "reward_sum": [2.0, 3.0] * 4, "reward_sq_sum": [1.0, 2.0] * 4})
    _, verdicts = judge(uids, JudgeOptions(resamples=200, measure="emission share"))
    assert verdicts["verdict"].tolist() == ["inconclusive"]
    assert verdicts["sentence"].iloc[0].startswith(
        "echo cannot be judged: honest miners earned no emission share, so no ratio to them means anything")


def test_one_backend_behind_many_hotkeys_is_judged_against_itself_on_one_hotkey() -> None:
    result = forward({"copycat": 8, "honest_twin": {"behaviour": "honest", "count": 4, "backends": 2}}, LENGTH,
                     "honest")
    uids = result.uid_weights[result.uid_weights["repetition"] == 0]
    assert uids.loc[uids["behaviour"] == "copycat", "backend"].nunique() == 1
    assert uids.loc[uids["behaviour"] == "honest_twin", "backend"].nunique() == 2
    honest = uids[uids["behaviour"] == "honest"]
    assert (honest["backend"] == honest["uid"]).all()  # one machine per honest uid
    alone = result.one_hotkey_uid_weights  # the same uids, each machine on one hotkey, its spares honest
    first = alone[alone["repetition"] == 0].set_index("uid")
    assert first["behaviour"].value_counts().to_dict() == {"honest": 20, "copycat.spare": 7, "honest_twin.spare": 2,
                                                           "honest_twin": 2, "copycat": 1}
    assert set(first.index[first["behaviour"].str.endswith(".spare") | first["behaviour"].isin(
        ["copycat", "honest_twin"])]) == set(uids.loc[uids["behaviour"] != "honest", "uid"])
    rows = result.strategies.set_index("behaviour")
    available = result.uid_weights[result.uid_weights["available"]]
    for strategy, backends in (("copycat", 1), ("honest_twin", 2)):  # the available uids each machine serves
        per_backend = available[available["behaviour"] == strategy].groupby("repetition").size().mean() / backends
        assert rows.loc[strategy, "uids_per_backend"] == pytest.approx(per_backend)
        per_uid = rows.loc[strategy, "ratio_per_uid"]
        assert rows.loc[strategy, "ratio_per_backend"] == pytest.approx(per_backend * per_uid)
        assert rows.loc[strategy, "ratio"] == rows.loc[strategy, "ratio_to_one_hotkey"]
    assert 0.5 < rows.loc["copycat", "ratio_per_uid"] < 1.5  # per uid, a copy earns what its one answer earns
    verdicts = result.verdicts.set_index("subject")
    assert verdicts.loc["copycat", "verdict"] == "exploit"  # its machine earns about 8x what it earns on one hotkey
    assert rows.loc["copycat", "ci_low"] > 3
    assert 1.3 < rows.loc["honest_twin", "ratio"] < 2.7  # 2 honest hotkeys per machine: about 2x its one hotkey
    assert verdicts.loc["copycat", "sentence"].startswith(f"copycat earns {rows.loc['copycat', 'ratio']:.2f}x the "
                                                          "weight per backend that its backend earns on one hotkey")
    assert f"{rows.loc['copycat', 'uids_per_backend']:.3g} available uids per backend" in \
        verdicts.loc["copycat", "sentence"]


def test_a_backend_whose_answers_beat_honest_is_judged_by_what_its_extra_hotkeys_add() -> None:
    def table(copies: list[float], honest: float = 1.0) -> pd.DataFrame:
        """Five repetitions of 8 honest uids (weight ``honest`` each) and one copycat machine's uids."""
        rows = [{"repetition": r, "uid": uid, "behaviour": "honest", "backend": uid, "weight": honest + 0.01 * uid}
                for r in range(5) for uid in range(8)]
        rows += [{"repetition": r, "uid": 8 + i, "behaviour": "copycat", "backend": 8, "weight": w * (1 + 0.01 * r)}
                 for r in range(5) for i, w in enumerate(copies)]
        frame = pd.DataFrame(rows).assign(available=True, calls=100, successes=100, short_calls=0)
        return frame.assign(reward_sum=frame["weight"] * 100, reward_sq_sum=frame["weight"] ** 2 * 100)

    options = JudgeOptions(resamples=1000)
    filtered = table([0.325] * 4)  # a filter leaves one copy a pass (any of the 4), earning 1.3x an honest answer
    strategies, _ = judge(filtered, options)
    assert strategies.set_index("behaviour").loc["copycat", "verdict"] == "exploit"  # against honest machines
    strategies, verdicts = judge(filtered, options, one_hotkey=table([1.3]))
    copycat = strategies.set_index("behaviour").loc["copycat"]
    assert copycat.ratio_per_backend > 1.25 and copycat.ratio == pytest.approx(1.0, abs=0.02)
    assert verdicts["verdict"].tolist() == ["neutral"]
    assert verdicts["sentence"].iloc[0].endswith("not distinguishable from its backend on one hotkey.")
    _, verdicts = judge(table([1.3] * 4), options, one_hotkey=table([1.3]))  # no filter: 4 hotkeys earn 4x
    assert verdicts["verdict"].tolist() == ["exploit"] and verdicts["estimate"].iloc[0] == pytest.approx(4, rel=0.02)
