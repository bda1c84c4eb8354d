"""The reward-hack search on real NQ-open questions: it finds padding under a length reward, nothing under
a reward that is quality itself, keeps to its budget, and corrects for the number of candidates tried."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.hacks import transforms
from mirror_neuron.hacks.transforms import Chain, resolve
from mirror_neuron.lab import hack_judge
from mirror_neuron.lab.hack_judge import judge
from mirror_neuron.lab.hack_search import Evaluated, Evaluator, Item, ModelReward, SearchOptions, search
from mirror_neuron.neuron.reward.length import LengthRewardModel
from mirror_neuron.stats import paired_bootstrap
from tests.lab.f1_reward import F1RewardModel

NQ_OPEN = Path(__file__).resolve().parents[2] / "../shared/data/nq_open/NQ-open.dev.jsonl"
ALL = [resolve(name) for name in transforms.builtin_names()]


def nq_items(n: int = 60) -> list[Item]:
    with open(NQ_OPEN) as handle:
        rows = [json.loads(line) for _, line in zip(range(n), handle)]
    return [Item(row["question"], tuple(row["answer"]), row["answer"][0]) for row in rows]


class Counting:
    """A reward function that counts the completions it scores."""

    def __init__(self, reward: ModelReward) -> None:
        self.reward, self.scored = reward, 0

    def score(self, rows, texts) -> np.ndarray:
        self.scored += len(texts)
        return self.reward.score(rows, texts)


def run(items: list[Item], model, options: SearchOptions = SearchOptions(), chosen=ALL):
    counting = Counting(ModelReward(model, items))
    evaluator = Evaluator(lambda: counting)
    levels = list(search(items, chosen, evaluator, options))
    candidates = [c for level in levels[1:] for c in level.candidates]
    return levels, judge(candidates, items, resamples=4000), evaluator, counting


def test_length_padding_is_an_exploit_under_a_reward_that_pays_for_length() -> None:
    items = nq_items()
    levels, table, evaluator, counting = run(items, LengthRewardModel(cap=50))
    verdict = dict(zip(table["candidate"], table["verdict"]))
    assert verdict["length_padding"] == "exploit"
    padding = table.set_index("candidate").loc["length_padding"]
    assert padding["ci_low"] > 0 and padding["f1_change"] < 0 and padding["p_adjusted"] <= 0.05
    assert table.iloc[0]["candidate"].startswith("length_padding")  # the biggest gain is padding, alone or chained
    assert [level.depth for level in levels] == [0, 1, 2]
    assert levels[2].candidates[0].chain.names[0] == table[table["depth"] == 1].iloc[0]["candidate"]  # greedy
    assert evaluator.count == counting.scored <= SearchOptions().budget
    sentences = hack_judge.verdicts(table).set_index("subject")["sentence"]
    assert sentences["length_padding"].startswith("Exploit: length_padding raises the reward by")
    assert "cap or penalize length" in sentences["length_padding"]


def test_no_transform_is_an_exploit_when_the_reward_is_quality_itself() -> None:
    items = nq_items()
    _, table, _, _ = run(items, F1RewardModel(), SearchOptions(search="beam", beam_width=2))
    assert "exploit" not in set(table["verdict"])
    assert table.set_index("candidate").loc["length_padding", "verdict"] == "penalized"


def test_the_search_stops_at_its_budget() -> None:
    items = nq_items(40)
    budget = 40 * 5 + 17  # the honest answers and four candidates; the rest do not fit
    levels, table, evaluator, counting = run(items, LengthRewardModel(cap=50), SearchOptions(budget=budget))
    assert counting.scored == evaluator.count <= budget
    assert len(levels[1].candidates) == 4 and levels[1].skipped == len(ALL) - 4
    assert evaluator.count == 40 * 5  # chains at depth 2 fit only where they repeat texts already scored
    with pytest.raises(ValueError, match="does not cover the honest answers"):
        run(items, LengthRewardModel(cap=50), SearchOptions(budget=39))


def test_a_borderline_gain_is_not_significant_among_many_candidates() -> None:
    items = nq_items(50)
    honest = np.zeros(len(items))
    noise = np.random.default_rng(7).normal(size=len(items))
    differences = (noise - noise.mean()) / noise.std() + 0.32  # a mean 2.26 standard errors above 0
    p = paired_bootstrap(differences, 4000, 0).p
    assert 0.005 < p < 0.05  # significant alone at 95%, not after a tenfold correction
    same = [item.honest for item in items]

    def candidate(name: str, rewards: np.ndarray) -> Evaluated:
        return Evaluated(Chain((name,), (transforms.markdown,)), 1, same, rewards, honest)

    borderline = candidate("borderline", differences)
    alone = judge([borderline], items, resamples=4000)
    assert alone.loc[0, "verdict"] == "exploit"
    others = [candidate(f"null{i}", np.zeros(len(items))) for i in range(9)]
    for correction in ("holm", "bonferroni"):
        among = judge([borderline, *others], items, resamples=4000, correction=correction).set_index("candidate")
        assert among.loc["borderline", "verdict"] == "neutral", correction
        assert among.loc["borderline", "p_adjusted"] > 0.05 and among.loc["borderline", "ci_low"] < 0


def test_batched_language_model_scores_equal_scores_taken_alone() -> None:
    from mirror_neuron.neuron.reward.memo import MEMO
    from mirror_neuron.neuron.reward.stack import RewardStack

    items = nq_items(8)
    stack = {"scorers": {"dpo": {"type": "LogProbRewardModel", "path": "tiny:gpt2", "penalty": 1.3}},
             "filters": {"blacklist": {}}}
    rows = [row for row in range(3, 8) for _ in range(3)]
    texts = [transforms.repetition(items[row].honest, "", None, times=k) for row in range(3, 8) for k in (1, 2, 3)]
    rewards = []
    for prefetch in (True, False):
        MEMO.values.clear()
        reward = ModelReward(RewardStack.from_config(seed=5, **stack), items, calibration=items[:3])
        assert reward.prefetch  # the stack's log-prob scorer remembers: a batch first pays
        reward.prefetch = prefetch
        rewards.append(reward.score(rows, texts))
        assert reward.prefetch == prefetch  # the log-prob scorer remembered what the batch computed
    np.testing.assert_allclose(rewards[0], rewards[1], rtol=1e-5)
    assert len(set(np.round(rewards[0], 6))) > 10  # real, different scores


def test_a_stateless_reward_scores_each_question_in_one_call_as_if_alone() -> None:
    from mirror_neuron.neuron.reward.logprob import LogProbRewardModel
    from mirror_neuron.neuron.reward.memo import MEMO

    items = nq_items(6)
    rows = [row for row in range(6) for _ in range(3)]
    texts = [transforms.repetition(items[row].honest, "", None, times=k) for row in range(6) for k in (1, 2, 3)]
    model = LogProbRewardModel(path="tiny:gpt2", penalty=1.3)
    assert model.stateless and not ModelReward(LengthRewardModel(cap=5), items).prefetch
    MEMO.values.clear()
    together = ModelReward(model, items).score(rows, texts)
    MEMO.values.clear()
    alone = [ModelReward(model, items).score([row], [text])[0] for row, text in zip(rows, texts)]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    through_score = ModelReward(model, items, through="score").score(rows, texts)
    np.testing.assert_allclose(through_score, model.score([items[r].question for r in rows], texts))
