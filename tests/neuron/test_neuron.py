"""Truths of the simulated validator on small, seeded populations."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.dendrite import SUCCESS, TIMEOUT, DummyDendritePool
from mirror_neuron.neuron.gating.base import ConstantGatingModel, RandomGatingModel
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.miners.scripted import Echo, Flaky, Honest
from mirror_neuron.neuron.neuron import Neuron
from mirror_neuron.neuron.population import build_population
from mirror_neuron.neuron.reward.base import ConstantRewardModel, RandomRewardModel
from tests.fixtures.faulty import NanRewardModel

ROLES, MESSAGES = ["system", "user"], ["Be helpful.", "What is the capital of Australia?"]
LOOSE_LIMITS = {"weights": {"min_allowed_weights": 1, "max_weight_limit": 1.0}}


def make(n: int = 32, miners: dict | None = None, seed: int = 0, reward=None, **metagraph) -> Neuron:
    graph = Metagraph.create(n, seed=seed, **metagraph)
    pool = DummyDendritePool(build_population(miners or {}, n, seed), seed=seed)
    pool.learn([MESSAGES[1]], ["Canberra is the capital of Australia."])
    return Neuron(LOOSE_LIMITS, metagraph=graph, dendrite_pool=pool, gating_model=RandomGatingModel(n, seed),
                  reward_model=reward or ConstantRewardModel(), seed=seed)


def test_random_gating_and_constant_reward_keep_weights_near_uniform() -> None:
    neuron = make(validators=2, not_serving=0.125)
    for _ in range(3000):
        neuron.forward(ROLES, MESSAGES, topk=8)
    _, weights = neuron.compute_weights()
    available = neuron.metagraph.available_uids()
    assert len(available) == 26
    others = np.setdiff1d(neuron.metagraph.uids, available)
    assert weights[others].sum() == 0  # validators and non-serving uids are never queried
    np.testing.assert_allclose(weights[available], 1 / 26, rtol=0.3)
    assert abs(weights.sum() - 1) < 1e-9


def test_a_uid_that_always_fails_decays_to_zero() -> None:
    neuron = make(n=8)
    for _ in range(200):
        neuron.forward(ROLES, MESSAGES)
    before = neuron.moving_averaged_scores.scores[3]
    neuron.dendrite_pool.behaviours[3] = Flaky(failure_rate=1.0)
    trace = []
    for _ in range(1000):
        neuron.forward(ROLES, MESSAGES)
        trace.append(neuron.moving_averaged_scores.scores[3])
    assert before > 0.05 and trace[-1] < before * 1e-4
    assert all(later <= earlier for earlier, later in zip(trace, trace[1:]))
    assert neuron.compute_weights()[1][3] < 1e-4


def test_a_churned_hotkey_restarts_at_zero() -> None:
    neuron = make(n=8)
    for _ in range(100):
        neuron.forward(ROLES, MESSAGES)
    assert neuron.moving_averaged_scores.scores[5] > 0
    neuron.metagraph.churn([5])
    assert neuron.sync_metagraph().tolist() == [5]
    assert neuron.moving_averaged_scores.scores[5] == 0
    assert neuron.moving_averaged_scores.scores[4] > 0


def test_the_same_seed_gives_identical_results() -> None:
    miners = {"flaky": 0.25, "slow": 0.1, "random_words": 3}
    runs = []
    for _ in range(2):
        neuron = make(miners=miners, seed=7, reward=RandomRewardModel(7))
        events = neuron.train(30)
        runs.append(([e.as_row() for e in events], neuron.compute_weights()[1]))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    other = make(miners=miners, seed=8, reward=RandomRewardModel(8))
    assert [e.as_row() for e in other.train(30)] != runs[0][0]


def test_forward_follows_the_reference_steps() -> None:
    graph = Metagraph.create(6)
    pool = DummyDendritePool([Honest(style="bare")] * 5 + [Flaky(failure_rate=1.0)])
    pool.learn([MESSAGES[1]], ["Canberra is the capital of Australia."])
    neuron = Neuron({"weights": {"alpha": 0.99}}, metagraph=graph, dendrite_pool=pool,
                    gating_model=ConstantGatingModel(6), reward_model=ConstantRewardModel(value=2.0))
    event = neuron.forward(ROLES, MESSAGES, topk=4)
    assert event.uids == [0, 1, 2, 3]  # constant gating: top-k ties go to the lowest uids
    assert event.successful_uids == [0, 1, 2, 3] and event.rewards == [2.0] * 4
    np.testing.assert_allclose(neuron.moving_averaged_scores.scores, [0.0025] * 4 + [0, 0])  # 0.01 * softmax
    assert event.best == "Canberra is the capital of Australia."
    event = neuron.forward(ROLES, MESSAGES)  # all six: uid 5 fails and stays at 0
    assert event.successful_uids == [0, 1, 2, 3, 4] and neuron.moving_averaged_scores.scores[5] == 0


def test_slow_miners_time_out_in_simulated_time() -> None:
    pool = DummyDendritePool(build_population({"slow": 4}, 4))
    calls = pool(ROLES, MESSAGES, np.arange(4), timeout=12.0)
    assert [c.return_code for c in calls].count(TIMEOUT) >= 3
    assert all(c.elapsed <= 12.0 for c in calls)
    fast = pool(ROLES, MESSAGES, np.arange(4), timeout=1e6)
    assert all(c.return_code == SUCCESS for c in fast)


def test_faults_never_stop_a_run_and_weights_stay_finite() -> None:
    neuron = make(n=16, miners={"tests.fixtures.faulty:Faulty": 8, "flaky": 4}, reward=NanRewardModel())
    events = neuron.train(40)
    for _ in range(40):
        neuron.forward(ROLES, MESSAGES)
    codes = {code for event in neuron.history for code in event.return_codes}
    assert {1, 7, 8, 21} <= codes  # success, empty, invalid, exception: all recorded
    assert any("backend exploded" in error for event in neuron.history for error in event.errors)
    assert max(len(c) for e in neuron.history for c in e.completions) <= 100_000
    assert any(np.isnan(v).any() for e in events for v in e.reward_components.values())
    all_text = "".join(c for e in neuron.history for c in e.completions)
    all_text.encode("utf-8")  # every stored completion is valid unicode
    _, weights = neuron.compute_weights()
    assert np.isfinite(weights).all() and abs(weights.sum() - 1) < 1e-9


def test_inference_returns_a_completion_without_touching_scores() -> None:
    neuron = make(n=12, miners={"echo": 6})
    before = neuron.moving_averaged_scores.scores.copy()
    answer = neuron.inference(["What is the capital of Australia?"], timeout=12.0)
    assert answer == "What is the capital of Australia?" or "Canberra is the capital of Australia." in answer
    np.testing.assert_array_equal(neuron.moving_averaged_scores.scores, before)


def test_save_and_load_restore_the_state(tmp_path) -> None:
    neuron = make(n=12)
    neuron.train(10)
    neuron.save(tmp_path / "neuron.npz")
    expected = [e.as_row() for e in neuron.train(5)]
    restored = make(n=12)
    restored.load(tmp_path / "neuron.npz")
    assert [e.as_row() for e in restored.train(5)] == expected


def test_every_registered_behaviour_answers_a_query() -> None:
    from mirror_neuron import registry
    from mirror_neuron.neuron.miners.base import Query

    query = Query(tuple(ROLES), tuple(MESSAGES), reference="Canberra is the capital of Australia.")
    rng = np.random.default_rng(0)
    for component in registry.components("behaviour"):
        if component.load().remote:
            continue  # it needs a real server: tests/contracts/test_behaviours.py starts one
        behaviour = component.load()()
        assert behaviour.name == component.name
        for _ in range(5):
            try:
                completion = behaviour.respond(query, 3, rng)
            except RuntimeError:
                assert component.name == "flaky"
                continue
            assert completion is None or isinstance(completion, str)


def test_a_neuron_from_its_config_alone() -> None:
    neuron = Neuron({"metagraph": {"n": 20, "validators": 2}, "miners": {"echo": 5}, "seed": 4})
    assert neuron.metagraph.n == 20 and sum(b.name == "echo" for b in neuron.dendrite_pool.behaviours) == 5
    assert type(neuron.gating_model).__name__ == "RandomGatingModel"
    assert neuron.forward(ROLES, MESSAGES, topk=5) is not None
    again = Neuron({"metagraph": {"n": 20, "validators": 2}, "miners": {"echo": 5}, "seed": 4})
    assert again.forward(ROLES, MESSAGES, topk=5).as_row() == Neuron(
        {"metagraph": {"n": 20, "validators": 2}, "miners": {"echo": 5}, "seed": 4}).forward(ROLES, MESSAGES, topk=5).as_row()


def test_permit_holders_under_the_vpermit_tao_limit_are_queried_like_miners() -> None:
    # core v5.2.0 / openvalidators: a uid with a validator permit is skipped only when its stake exceeds
    # vpermit_tao_limit; without a limit (core v5.0.0, the mirror) every permit holder is skipped
    neuron = make(n=6, validators=2)
    graph = neuron.metagraph
    low, high = np.flatnonzero(graph.validator_permit)
    graph.stake[low], graph.stake[high] = 500.0, 5000.0
    assert low not in neuron.available_uids() and high not in neuron.available_uids()
    neuron.config = neuron.config.model_copy(update={"vpermit_tao_limit": 1024.0})
    assert low in neuron.available_uids() and high not in neuron.available_uids()


def test_core_2023_inference_takes_the_top_uids_over_all_uids_best_first() -> None:
    # the original sorted the gating scores of every uid (validators and non-serving ones included) and read
    # the calls from the best down: the non-serving best uid answers nothing, the next best answers
    neuron = Neuron({"validator": "core-2023", "gating": {"type": "ConstantGatingModel"}, "reward": None,
                     "screen": None, "metagraph": {"n": 12}}, seed=0)
    scores = np.arange(12, dtype=float)
    neuron.gating_model.scores = lambda text: scores  # the best uid is 11, then 10, ...
    neuron.metagraph.is_serving[11] = False
    neuron.dendrite_pool.behaviours[11] = Echo()  # were it served, its answer would be the question itself
    asked = []
    pool_call = neuron.dendrite_pool.__call__
    neuron.dendrite_pool = lambda roles, messages, uids, timeout, **kw: asked.append(list(uids)) or pool_call(
        roles, messages, uids, timeout, **kw)
    answer = neuron.inference(["What is the capital of Australia?"])
    assert asked == [list(range(11, 1, -1))]
    assert answer and answer != "What is the capital of Australia?"
    assert neuron.moving_averaged_scores.scores.sum() == 0
