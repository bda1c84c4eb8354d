"""The reward stack: weighted normalized scorers times filters, by hand, then with real filters and MiniLM."""

from __future__ import annotations

import json
import math
from typing import ClassVar

import numpy as np
import pytest

from mirror_neuron.models.embeddings import SentenceEmbedder
from mirror_neuron.neuron.miners import scripted
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import ConstantRewardModel, RandomRewardModel, RewardModelBase, Rewards
from mirror_neuron.neuron.reward.filters import (
    BlacklistFilter,
    DiversityFilter,
    Filter,
    RelevanceFilter,
    TaskValidatorFilter,
)
from mirror_neuron.neuron.reward.stack import RewardStack
from tests.fixtures.faulty import NanRewardModel

PROMPT = "What is the capital of Australia?"
ANSWER = "Canberra is the capital of Australia."
ASK = Query(("system", "user"), ("Be helpful.", PROMPT), reference=ANSWER)
COMPLETIONS = [ANSWER, "That is an excellent question.", "Canberra, a planned city, became Australia's capital."]


class Fixed(RewardModelBase):
    """Returns the given batches of scores in turn."""

    def __init__(self, *batches: list[float]) -> None:
        super().__init__()
        self.batches = [np.array(b, dtype=np.float64) for b in batches]
        self.calls = 0

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        values = self.batches[self.calls % len(self.batches)]
        self.calls += 1
        return Rewards(values, {"fixed": values})

    def get_state(self) -> dict:
        return {**super().get_state(), "calls": self.calls}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.calls = state["calls"]


class Zeros(Filter):
    """Removes everything (the reference's mock reward models in the filter slot)."""

    name: ClassVar[str] = "zeros"

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        return np.zeros(len(completions))


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder("minilm")


def test_two_scorers_weights_and_filters_by_hand() -> None:
    stack = RewardStack([("a", Fixed([1.0, 2.0, 3.0]), 0.6), ("b", ConstantRewardModel(value=3.0), 2.0)],
                        [("blacklist", BlacklistFilter(), True), ("zeros", Zeros(), False)])
    result = stack.rewards(ASK, COMPLETIONS)
    # a: mean 2, var 2/3 -> Phi(-1.2247449), Phi(0), Phi(1.2247449); b: variance 0 -> 0.5 everywhere
    a = np.array([0.1103357, 0.5, 0.8896643])
    np.testing.assert_allclose(result.normalized["scorer:a"], a, atol=1e-7)
    np.testing.assert_array_equal(result.normalized["scorer:b"], [0.5, 0.5, 0.5])
    # weights used as given (sum 2.6); the stock phrase is blacklisted; the disabled filter is recorded only
    np.testing.assert_allclose(result.final, [0.6 * a[0] + 1.0, 0.0, 0.6 * a[2] + 1.0], atol=1e-7)
    np.testing.assert_allclose(result.final, [1.0662014, 0.0, 1.5337986], atol=1e-7)
    np.testing.assert_array_equal(result.raw["scorer:a"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(result.raw["scorer:b"], [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(result.raw["filter:blacklist"], [1, 0, 1])
    np.testing.assert_array_equal(result.normalized["filter:blacklist"], [1, 0, 1])
    np.testing.assert_array_equal(result.raw["filter:zeros"], [0, 0, 0])
    assert set(result.raw) == set(result.normalized) == {"scorer:a", "scorer:b", "filter:blacklist", "filter:zeros"}


def test_second_batch_uses_the_running_statistics() -> None:
    stack = RewardStack([("a", Fixed([1.0, 2.0, 3.0], [4.0, 5.0]), 1.0)])
    stack.rewards(ASK, COMPLETIONS)
    result = stack.rewards(ASK, COMPLETIONS[:2])
    # running mean 3, variance 2 over [1, 2, 3, 4, 5]: Phi(1 / sqrt 2), Phi(2 / sqrt 2)
    np.testing.assert_allclose(result.final, [0.7602499, 0.9213504], atol=1e-7)


def test_random_and_constant_scorers_match_numpy() -> None:
    stack = RewardStack([("random", RandomRewardModel(seed=3), 0.5), ("constant", ConstantRewardModel(value=2.0), 1.5)])
    result = stack.rewards(ASK, COMPLETIONS)
    x = np.random.default_rng(3).random(3)
    z = (x - x.mean()) / x.std()  # first batch: its own mean and population standard deviation
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    np.testing.assert_allclose(result.raw["scorer:random"], x)
    np.testing.assert_allclose(result.final, 0.5 * cdf + 1.5 * 0.5)


def test_an_all_zero_filter_zeroes_every_reward_as_the_reference_mock_did() -> None:
    stack = RewardStack([("constant", ConstantRewardModel(value=0.0), 1.0)], [("mock", Zeros(), True)])
    result = stack.rewards(ASK, COMPLETIONS)
    np.testing.assert_array_equal(result.normalized["scorer:constant"], [0.5, 0.5, 0.5])  # zeros alone: 0.5
    np.testing.assert_array_equal(result.final, [0.0, 0.0, 0.0])


def test_nan_from_a_scorer_gives_final_zero_and_is_recorded() -> None:
    stack = RewardStack([("nan", NanRewardModel(), 1.0), ("a", Fixed([1.0, 2.0, 3.0, 4.0]), 1.0)])
    result = stack.rewards(ASK, ["one answer", "two answer", "three answer", "four answer"])
    np.testing.assert_array_equal(np.isnan(result.raw["scorer:nan"]), [True, False, True, False])
    np.testing.assert_array_equal(result.normalized["scorer:nan"], [0.0, 0.5, 0.0, 0.5])
    assert stack.normalizers["nan"].count == 2  # NaN left out of the statistics
    a = result.normalized["scorer:a"]  # mean 2.5, var 1.25
    np.testing.assert_allclose(a, [0.0899, 0.3274, 0.6726, 0.9101], atol=1e-4)
    np.testing.assert_allclose(result.final, [0.0, 0.5 + a[1], 0.0, 0.5 + a[3]])
    assert np.isfinite(result.final).all()


def test_state_round_trips_through_json(embedder: SentenceEmbedder) -> None:
    def build() -> RewardStack:
        return RewardStack([("random", RandomRewardModel(seed=1), 0.7), ("a", Fixed([1.0, 5.0], [2.0, 2.5]), 0.3)],
                           [("diversity", DiversityFilter(embedder, history_size=10), True)], count_limit=3)

    stack = build()
    stack.rewards(ASK, [ANSWER, "Sydney is the largest city in Australia."])
    state = json.loads(json.dumps(stack.get_state()))
    restored = build()
    restored.set_state(state)
    batch = ["Sydney is the largest city in Australia.", "Australia has six states."]
    expected, got = stack.rewards(ASK, batch), restored.rewards(ASK, batch)
    np.testing.assert_array_equal(got.final, expected.final)
    for name in expected.raw:
        np.testing.assert_array_equal(got.raw[name], expected.raw[name])
        np.testing.assert_array_equal(got.normalized[name], expected.normalized[name])
    np.testing.assert_array_equal(got.raw["filter:diversity"], [0, 1])  # the repeat is remembered
    assert set(state) == {"rng", "scorers", "normalizers", "filters"}


def test_filters_remove_the_scripted_exploits(embedder: SentenceEmbedder) -> None:
    rng = np.random.default_rng(0)
    answer_miners = {"honest": scripted.Honest(), "echo": scripted.Echo(), "stock": scripted.StockPhrase(),
                     "refusal": scripted.Refusal(), "stuffer": scripted.KeywordStuffer(),
                     "random": scripted.RandomWords(), "copycat_0": scripted.Copycat(), "copycat_1": scripted.Copycat(),
                     "copycat_2": scripted.Copycat(mode="near")}
    stack = RewardStack([("constant", ConstantRewardModel(), 1.0)],
                        [("blacklist", BlacklistFilter(), True), ("task", TaskValidatorFilter(), True),
                         ("relevance", RelevanceFilter(embedder), True),
                         ("diversity", DiversityFilter(embedder, history_size=0), True)])
    completions = [m.respond(ASK, uid, rng) for uid, m in enumerate(answer_miners.values())]
    final = dict(zip(answer_miners, stack.rewards(ASK, completions).final))
    kept = {name for name, value in final.items() if value > 0}
    # one cached copy survives: the first; and so does the attacker's stock phrase on its first prompt: no
    # blacklist rule lists this wording, and it mentions "the answer" (MiniLM relevance 0.27, above 0.2)
    assert completions[2] == "As with many things, the answer depends on a number of factors."
    assert kept == {"honest", "copycat_0", "stock"}
    reuse = RewardStack([("constant", ConstantRewardModel(), 1.0)],
                        [("blacklist", BlacklistFilter(reuse_memory=100), True)])
    reuse.rewards(Query(("user",), ("Why is the sky blue?",)), [completions[2]])
    second = reuse.rewards(ASK, [completions[2], ANSWER]).final  # the same phrase for a second prompt
    assert second[0] == 0 < second[1]

    follow_up = Query(("system", "user"), ("Be helpful.", f"{ANSWER}\n\nAsk a follow up question."), question=True,
                      reference=ANSWER)
    completions = [scripted.Honest().respond(follow_up, 0, rng), scripted.AnswerStuffer().respond(follow_up, 1, rng)]
    np.testing.assert_array_equal(stack.rewards(follow_up, completions).final, [0.5, 0.0])


def test_misconfigured_stacks_and_scorers_are_errors() -> None:
    with pytest.raises(ValueError, match="at least one scorer"):
        RewardStack([])
    with pytest.raises(ValueError, match="repeated: a"):
        RewardStack([("a", ConstantRewardModel(), 1.0), ("a", ConstantRewardModel(), 1.0)])
    stack = RewardStack([("short", Fixed([1.0]), 1.0)])
    with pytest.raises(ValueError, match="scorer 'short' returned 1 values for 3 completions"):
        stack.rewards(ASK, COMPLETIONS)


def test_params_record_weights_and_filter_parameters() -> None:
    stack = RewardStack([("a", ConstantRewardModel(), 0.4)], [("task", TaskValidatorFilter(max_statements=1), False)])
    params = stack.params()
    assert params["scorers"] == [{"name": "a", "model": "ConstantRewardModel", "weight": 0.4}]
    assert params["filters"][0]["enabled"] is False and params["filters"][0]["max_statements"] == 1
    assert params["count_limit"] == 1000


def test_off_zeroes_rewards_puts_a_zero_mock_in_a_disabled_filters_slot() -> None:
    scorers = [("a", Fixed([1.0, 2.0, 3.0]), 1.0)]
    skipped = RewardStack(scorers, [("blacklist", BlacklistFilter(), False)])
    # off: the disabled blacklist is recorded only; a = Phi(-1.2247449), Phi(0), Phi(1.2247449)
    result = skipped.rewards(ASK, COMPLETIONS)
    np.testing.assert_allclose(result.final, [0.1103357, 0.5, 0.8896643], atol=1e-7)
    np.testing.assert_array_equal(result.raw["filter:blacklist"], [1, 0, 1])
    zeroed = RewardStack([("a", Fixed([1.0, 2.0, 3.0]), 1.0)], [("blacklist", BlacklistFilter(), False)],
                         off_zeroes_rewards=True)
    # on: openvalidators' MockRewardModel returns 0 per completion and `rewards *= mask` zeroes them all
    result = zeroed.rewards(ASK, COMPLETIONS)
    np.testing.assert_array_equal(result.final, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(result.raw["filter:blacklist"], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(result.normalized["scorer:a"], [0.1103357, 0.5, 0.8896643], atol=1e-7)
    enabled = RewardStack([("a", Fixed([1.0, 2.0, 3.0]), 1.0)], [("blacklist", BlacklistFilter(), True)],
                          off_zeroes_rewards=True)  # an enabled filter is untouched by the switch
    np.testing.assert_allclose(enabled.rewards(ASK, COMPLETIONS).final, [0.1103357, 0.0, 0.8896643], atol=1e-7)
    assert zeroed.params()["off_zeroes_rewards"] is True and skipped.params()["off_zeroes_rewards"] is False


def test_unbiased_variance_reaches_every_scorers_normalizer() -> None:
    stack = RewardStack([("a", Fixed([4.0], [1.0, 3.0]), 1.0), ("b", ConstantRewardModel(value=1.0), 1.0)],
                        unbiased_variance=True)
    first = stack.rewards(ASK, COMPLETIONS[:1])
    # a batch of one: var NaN, z = x - mean = 0 -> 0.5 for both scorers
    np.testing.assert_array_equal(first.final, [1.0])
    second = stack.rewards(ASK, COMPLETIONS[:2])
    # a: mean = 2/3 * 2 + 1/3 * 4 = 8/3, var NaN: z = x - 8/3 = -5/3, 1/3 -> Phi = 0.0477904, 0.6305587
    np.testing.assert_allclose(second.normalized["scorer:a"], [0.0477904, 0.6305587], atol=1e-7)
    assert math.isnan(stack.normalizers["b"].var) and stack.params()["unbiased_variance"] is True


def test_columns_name_the_openvalidators_event_columns() -> None:
    class Columned(Zeros):
        column: ClassVar[str] = "nsfw_filter"

    stack = RewardStack([("rlhf", ConstantRewardModel(), 0.6), ("reciprocate", ConstantRewardModel(), 0.4)],
                        [("blacklist", BlacklistFilter(), True), ("mine", Columned(), False)])
    assert stack.columns() == {"scorer:rlhf": "rlhf_reward_model", "scorer:reciprocate": "reciprocate_reward_model",
                               "filter:blacklist": getattr(BlacklistFilter, "column", "blacklist_filter"),
                               "filter:mine": "nsfw_filter"}


def test_stand_ins_gather_every_parts_with_its_name() -> None:
    class StandIn(ConstantRewardModel):
        def stand_ins(self) -> dict[str, str]:
            return {"OpenAssistant/reward-model-deberta-v3-large-v2": "tiny:gpt2"}

    class StandInFilter(Zeros):
        def stand_ins(self) -> dict[str, str]:
            return {"facebook/roberta-hate-speech-dynabench-r4-target": "tiny:bert"}

    stack = RewardStack([("rlhf", StandIn(), 1.0), ("c", ConstantRewardModel(), 1.0)],
                        [("blacklist", BlacklistFilter(), True), ("nsfw", StandInFilter(), True)])
    assert stack.stand_ins() == {"scorer.rlhf:OpenAssistant/reward-model-deberta-v3-large-v2": "tiny:gpt2",
                                 "filter.nsfw:facebook/roberta-hate-speech-dynabench-r4-target": "tiny:bert"}
    assert RewardStack([("c", ConstantRewardModel(), 1.0)]).stand_ins() == {}
