"""The dendrite pool asks a batching behaviour once per call and the others one uid at a time, in order."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mirror_neuron.neuron.dendrite import (
    EMPTY_RESPONSE,
    INVALID_RESPONSE,
    SUCCESS,
    TIMEOUT,
    UNKNOWN_EXCEPTION,
    DummyDendritePool,
)
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.neuron.population import make_behaviour

QUERY = Query(("user",), ("What is the capital of Australia?",))  # as the pool builds it (no reference learnt)


class Batching(Behaviour):
    """Answers ``uid <n>`` for each uid, and remembers the batches it was given."""

    name: ClassVar[str] = "batching"
    batches: ClassVar[list[list[int]]]

    def respond_many(self, query: Query, uids: list[int], rng: np.random.Generator) -> list[str | None | Exception]:
        self.batches.append(list(uids))
        return [f"uid {uid}" for uid in uids]


class Faults(Behaviour):
    """One batch holding each kind of answer a miner may give."""

    name: ClassVar[str] = "faults"

    def respond_many(self, query: Query, uids: list[int], rng: np.random.Generator) -> list[str | None | Exception]:
        return [ValueError("backend exploded"), None, "", 42, "fine"][: len(uids)]  # type: ignore[list-item]


class Crashing(Behaviour):
    name: ClassVar[str] = "crashing"

    def respond_many(self, query: Query, uids: list[int], rng: np.random.Generator) -> list[str | None | Exception]:
        raise RuntimeError("out of memory")


def ask(pool: DummyDendritePool, uids: list[int], timeout: float = 1e9) -> list:
    return pool(list(QUERY.roles), list(QUERY.messages), np.array(uids), timeout=timeout)


def test_a_batching_behaviour_gets_its_in_time_uids_of_a_call_at_once() -> None:
    Batching.batches = []
    one, other = Batching(), Batching(latency_median=50.0, latency_sigma=0.0)
    pool = DummyDendritePool([one, other, one, one, other, one], seed=0)
    calls = ask(pool, [5, 4, 3, 2, 1, 0], timeout=12.0)
    assert Batching.batches == [[5, 3, 2, 0]]  # the slow object's uids timed out: it is not asked
    assert [c.uid for c in calls] == [5, 4, 3, 2, 1, 0]
    assert [c.return_code for c in calls] == [SUCCESS, TIMEOUT, SUCCESS, SUCCESS, TIMEOUT, SUCCESS]
    assert calls[0].completion == "uid 5"
    ask(pool, [1, 0, 4])
    assert Batching.batches[1:] == [[1, 4], [0]]  # one batch per behaviour object, in the order first reached


def test_one_at_a_time_behaviours_draw_from_the_pool_stream_in_uid_order() -> None:
    flaky, honest = make_behaviour("flaky", {"failure_rate": 0.5}), make_behaviour("honest", {"noise": 0.5})
    behaviours = [flaky, Batching(), honest, Batching(), flaky, honest, flaky, honest]
    Batching.batches = []
    uids = [7, 1, 6, 3, 2, 0, 5, 4]
    calls = ask(DummyDendritePool(behaviours, seed=3), uids)
    rng = np.random.default_rng(3)
    rng.standard_normal(len(uids))  # the latencies
    expected = {}
    for uid in uids:
        if not isinstance(behaviours[uid], Batching):
            try:
                expected[uid] = behaviours[uid].respond(QUERY, uid, rng)
            except Exception:
                expected[uid] = "raised"
    got = {c.uid: c.completion if c.return_code != UNKNOWN_EXCEPTION else "raised" for c in calls}
    assert {uid: got[uid] for uid in expected} == {uid: text or "" for uid, text in expected.items()}
    assert len(set(expected.values())) > 2


def test_the_answers_of_a_batch_map_to_return_codes() -> None:
    pool = DummyDendritePool([Faults()] * 5, seed=0)
    calls = ask(pool, [0, 1, 2, 3, 4])
    assert [c.return_code for c in calls] == [UNKNOWN_EXCEPTION, EMPTY_RESPONSE, EMPTY_RESPONSE, INVALID_RESPONSE,
                                              SUCCESS]
    assert calls[0].error == "ValueError: backend exploded" and calls[4].completion == "fine"
    short = ask(DummyDendritePool([Faults()] * 6, seed=0), list(range(6)))  # five answers for six uids
    assert {c.return_code for c in short} == {UNKNOWN_EXCEPTION} and "5 answers for 6 uids" in short[0].error


def test_a_batch_that_raises_fails_each_of_its_calls() -> None:
    calls = ask(DummyDendritePool([Crashing(), make_behaviour("echo", {}), Crashing()], seed=0), [0, 1, 2])
    assert [c.return_code for c in calls] == [UNKNOWN_EXCEPTION, SUCCESS, UNKNOWN_EXCEPTION]
    assert calls[2].error == "RuntimeError: out of memory"
