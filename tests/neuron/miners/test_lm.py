"""The LM miner generates with a real local causal LM: batched, seeded per uid, cached by content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.dendrite import SUCCESS, TIMEOUT, DummyDendritePool
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.generation_cache import cache_file, open_cache
from mirror_neuron.neuron.miners.lm import LanguageModelMiner

QUERY = Query(("system", "user"), ("You are a helpful assistant.", "What is the capital of France?"))
RNG = np.random.default_rng(0)  # the miner samples with its own per-uid seeds, not with the pool's stream
TINY = {"path": "tiny:gpt2", "max_new_tokens": 8, "temperature": 1.0, "top_p": 0.9}


def one_at_a_time(miner: LanguageModelMiner, uids: list[int]) -> list[str | None]:
    return [miner.respond(QUERY, uid, RNG) for uid in uids]


def test_smollm2_answers_greedily_alike_and_samples_alike_batched_or_not() -> None:
    greedy = LanguageModelMiner(path="smollm2", max_new_tokens=12, cache=False)
    answers = greedy.respond_many(QUERY, [0, 5], RNG)
    assert "Paris" in answers[0] and answers[1] == answers[0]
    sampled = LanguageModelMiner(path="smollm2", max_new_tokens=12, temperature=0.8, cache=False)
    batched = sampled.respond_many(QUERY, [1, 2, 3], RNG)
    assert batched == one_at_a_time(sampled, [1, 2, 3])
    assert len(set(batched)) == 3


def test_batched_generation_equals_one_at_a_time_under_the_same_seeds() -> None:
    miner = LanguageModelMiner(**TINY, batch_size=4, cache=False)
    uids = list(range(10))
    batched = miner.respond_many(QUERY, uids, RNG)
    assert batched == one_at_a_time(miner, uids)
    assert all(isinstance(text, str) and text for text in batched)
    assert len(set(batched)) == len(uids)  # every uid samples its own completion


def test_the_seed_parameter_and_the_uid_choose_the_sample() -> None:
    first = LanguageModelMiner(**TINY, cache=False).respond_many(QUERY, [3, 4], RNG)
    assert LanguageModelMiner(**TINY, cache=False).respond_many(QUERY, [3, 4], np.random.default_rng(9)) == first
    other = LanguageModelMiner(**TINY, seed=1, cache=False).respond_many(QUERY, [3, 4], RNG)
    assert other != first and other[0] != first[0]


def test_greedy_decoding_generates_once_for_every_uid() -> None:
    miner = LanguageModelMiner(path="tiny:gpt2", max_new_tokens=8)
    answers = miner.respond_many(QUERY, [0, 1, 2, 3], RNG)
    assert len(set(answers)) == 1
    assert (miner.generation_cache().hits, miner.generation_cache().misses) == (0, 4)
    assert LanguageModelMiner(path="tiny:gpt2", max_new_tokens=8).respond(QUERY, 9, RNG) == answers[0]
    assert miner.generation_cache().hits == 1


def test_a_second_pool_reads_every_completion_from_the_cache() -> None:
    uids = np.arange(6)
    calls = DummyDendritePool([LanguageModelMiner(**TINY)] * 6, seed=0)(list(QUERY.roles), list(QUERY.messages),
                                                                          uids, timeout=1e9)
    cache = open_cache(cache_file())
    assert (cache.hits, cache.misses) == (0, 6)
    again = DummyDendritePool([LanguageModelMiner(**TINY)] * 6, seed=7)(list(QUERY.roles), list(QUERY.messages),
                                                                        uids, timeout=1e9)
    assert [c.completion for c in again] == [c.completion for c in calls]
    assert (cache.hits, cache.misses) == (6, 6)


def test_another_process_reads_the_cache_this_one_filled() -> None:
    miner = LanguageModelMiner(**TINY)
    here = miner.respond_many(QUERY, [0, 1, 2], RNG)
    script = ("import json, numpy as np\n"
              "from mirror_neuron.neuron.miners.lm import LanguageModelMiner\n"
              "from mirror_neuron.neuron.miners.base import Query\n"
              f"miner = LanguageModelMiner(**{TINY!r})\n"
              f"texts = miner.respond_many(Query({QUERY.roles!r}, {QUERY.messages!r}), [0, 1, 2], None)\n"
              "cache = miner.generation_cache()\n"
              "print(json.dumps({'texts': texts, 'hits': cache.hits, 'misses': cache.misses}))\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.splitlines()[-1])
    assert there == {"texts": here, "hits": 3, "misses": 0}


def test_cache_false_generates_again_and_writes_nothing() -> None:
    cached = LanguageModelMiner(**TINY)
    real = cached.respond(QUERY, 0, RNG)
    store = cached.generation_cache()
    (key,) = store.connection.execute("SELECT key FROM generations").fetchone()
    store.connection.execute("UPDATE generations SET completion = 'from the cache' WHERE key = ?", (key,))
    store.connection.commit()
    assert cached.respond(QUERY, 0, RNG) == "from the cache"
    uncached = LanguageModelMiner(**TINY, cache=False)
    assert uncached.generation_cache() is None
    assert uncached.respond(QUERY, 0, RNG) == real
    assert uncached.respond(QUERY, 1, RNG) != real
    assert store.connection.execute("SELECT COUNT(*) FROM generations").fetchone() == (1,)


def test_an_unloadable_model_stops_the_run_and_timeouts_still_map_to_return_codes(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no model folder or file './no-such-model'"):
        LanguageModelMiner(path="./no-such-model")  # refused at validation
    (tmp_path / "config.json").write_text("{}")  # a folder that only looks like a model: found out when loaded
    empty = LanguageModelMiner(path=str(tmp_path), cache=False)
    with pytest.raises(UserError, match="cannot load causal LM"):  # every call would fail: the run stops instead
        DummyDendritePool([empty], seed=0)(list(QUERY.roles), list(QUERY.messages), np.arange(1), timeout=10.0)
    working = LanguageModelMiner(**TINY, latency_median=5.0, latency_sigma=0.0)
    pool = DummyDendritePool([working, working, working], seed=0)
    calls = pool(list(QUERY.roles), list(QUERY.messages), np.arange(3), timeout=10.0)
    assert [c.return_code for c in calls] == [SUCCESS, SUCCESS, SUCCESS]
    late = pool(list(QUERY.roles), list(QUERY.messages), np.arange(1, 3), timeout=4.0)
    assert [c.return_code for c in late] == [TIMEOUT, TIMEOUT]
