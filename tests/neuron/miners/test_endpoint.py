"""The endpoint miner calls a real HTTP server (its own process, on loopback): every fault maps to the
dendrite's return codes, a pass's calls go out together, completions are cached by content, and a
10,000-call load loses nothing and leaks no connection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import psutil
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.dendrite import (
    EMPTY_RESPONSE,
    INVALID_RESPONSE,
    SUCCESS,
    TIMEOUT,
    UNKNOWN_EXCEPTION,
    DummyDendritePool,
)
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.chat_client import close_connections
from mirror_neuron.neuron.miners.endpoint import EndpointMiner
from mirror_neuron.neuron.miners.generation_cache import cache_file
from mirror_neuron.neuron.miners.lm import uid_seed
from mirror_neuron.neuron.population import MinerError, build_population
from tests.conftest import run_cli
from tests.fixtures.chat_servers import STALL_SECONDS, fault_server, stats
from tests.fixtures.runs import run_config

ROLES, MESSAGES = ["system", "user"], ["You are a helpful assistant.", "Why is the sky blue?"]
KEY = "sk-test-1234567890"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with fault_server() as base:
        yield base


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    with fault_server({"SERVER_KEY": KEY}, "--api-key-env", "SERVER_KEY") as base:
        yield base


def miner(url: str, model: str = "scripted", **params: object) -> EndpointMiner:
    return EndpointMiner(url=url, model=model, **params)


def one_pass(behaviours: list[EndpointMiner], timeout: float = 2.0, prompt: str = MESSAGES[1]) -> list:
    pool = DummyDendritePool(behaviours)
    return pool(ROLES, [MESSAGES[0], prompt], np.arange(len(behaviours)), timeout=timeout)


def requests_served(url: str) -> int:
    return stats(url)["requests"]


def test_each_fault_maps_to_its_return_code_in_one_concurrent_pass(url: str) -> None:
    kinds = ["scripted", "stall", "error", "close", "malformed", "empty"]
    started = time.perf_counter()
    calls = one_pass([miner(url, kind, cache=False) for kind in kinds], timeout=1.5)
    took = time.perf_counter() - started
    by_kind = dict(zip(kinds, calls))
    assert [c.return_code for c in calls] == [SUCCESS, TIMEOUT, UNKNOWN_EXCEPTION, UNKNOWN_EXCEPTION,
                                              INVALID_RESPONSE, EMPTY_RESPONSE]
    assert by_kind["scripted"].completion == "scripted None 0: Why is the sky blue?"
    assert by_kind["stall"].elapsed == 1.5 and by_kind["stall"].completion == ""  # as a simulated timeout
    assert "HTTP 500" in by_kind["error"].error and "the model crashed" in by_kind["error"].error
    assert by_kind["close"].error.startswith("RemoteProtocolError: peer closed connection")
    assert by_kind["malformed"].error.startswith("InvalidResponse: malformed JSON")
    assert all(0 < c.elapsed < 1.5 for kind, c in by_kind.items() if kind != "stall")
    assert took < 1.5 + 1.0 < STALL_SECONDS  # the stall did not hold up the pass beyond its timeout


def test_a_pass_calls_its_uids_concurrently_and_records_real_times(url: str) -> None:
    started = time.perf_counter()
    calls = one_pass([miner(url, "scripted-200", cache=False)] * 20, timeout=5.0)
    took = time.perf_counter() - started
    assert all(c.is_success for c in calls)
    assert all(0.2 <= c.elapsed < 2.0 for c in calls)
    assert took < 2.0  # 20 calls of 0.2 s each, one after the other, would take 4 s
    two = [miner(url, "scripted-1000", cache=False), miner(url, "scripted-1000", cache=False, max_connections=4)]
    started = time.perf_counter()
    assert all(c.is_success for c in one_pass([two[0]] * 4 + [two[1]] * 4, timeout=5.0))
    assert time.perf_counter() - started < 1.8  # two strategies' calls at once: one after the other takes 2 s


def test_a_server_slower_under_concurrency_times_some_calls_out_and_nothing_else(url: str) -> None:
    calls = one_pass([miner(url, "crowded", cache=False, max_connections=30)] * 30, timeout=0.3)
    codes = {c.return_code for c in calls}
    assert codes == {SUCCESS, TIMEOUT}
    assert all(c.elapsed <= 0.3 for c in calls)
    assert all(c.elapsed == 0.3 for c in calls if c.return_code == TIMEOUT)


def test_the_connection_limit_queues_calls_within_their_timeout(url: str) -> None:
    calls = one_pass([miner(url, "scripted-500", cache=False, max_connections=2)] * 6, timeout=0.75)
    assert sorted(c.return_code for c in calls) == [SUCCESS] * 2 + [TIMEOUT] * 4  # a second round would end at 1 s


def test_added_latency_is_simulated_on_top_of_the_real_time(url: str) -> None:
    real = one_pass([miner(url, "scripted-50", cache=False)])[0]
    added = one_pass([miner(url, "scripted-50", cache=False, added_latency=1.0)])[0]
    assert added.is_success and added.elapsed >= 1.05 > real.elapsed
    served = requests_served(url)
    late = one_pass([miner(url, cache=False, added_latency=3.0)], timeout=2.0)[0]
    assert (late.return_code, late.elapsed) == (TIMEOUT, 2.0)
    assert requests_served(url) == served  # no time left: the server was not called


def test_uids_send_their_own_seeds_temperatures_and_servers(url: str) -> None:
    servers = [{"url": url, "model": "scripted"}, {"url": url, "model": "scripted-1"}]
    shared = EndpointMiner(servers=servers, temperature=[0.5, 0.5, 0.0], seed=7, cache=False)
    calls = one_pass([shared] * 6)
    for uid, call in enumerate(calls):
        model, seed, temperature = call.completion.split(":")[0].split()
        assert model == ["scripted", "scripted-1"][uid % 2]
        assert float(temperature) == [0.5, 0.5, 0.0][uid % 3]
        assert seed == (str(uid_seed(7, uid)) if uid % 3 != 2 else "None")  # greedy sends no seed


def test_completions_are_cached_by_content_with_their_real_time(url: str) -> None:
    cached = miner(url, "scripted-50", temperature=0.8)
    first = one_pass([cached] * 4)
    served = requests_served(url)
    again = one_pass([cached] * 4)
    assert requests_served(url) == served  # the rerun called nothing
    assert [(c.completion, c.elapsed) for c in again] == [(c.completion, c.elapsed) for c in first]
    assert len({c.completion for c in again}) == 4  # each uid its own seed, its own completion
    other_prompt = one_pass([cached] * 4, prompt="What is a rainbow?")
    assert requests_served(url) == served + 4 and all(c.is_success for c in other_prompt)
    one_pass([miner(url, "scripted-50", temperature=0.8, cache=False)] * 4)
    assert requests_served(url) == served + 8  # cache: false asks again


def test_alike_requests_share_one_call_and_failures_are_not_cached(url: str) -> None:
    served = requests_served(url)
    greedy = one_pass([miner(url)] * 5)
    assert len({c.completion for c in greedy}) == 1 and requests_served(url) == served + 1
    one_pass([miner(url, "error")] * 2)
    one_pass([miner(url, "error")] * 2)
    assert requests_served(url) == served + 3  # each failed pass asked again


def test_the_api_key_is_sent_read_from_the_environment_and_never_stored(keyed_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_MINER_KEY", KEY)
    keyed = miner(keyed_url, api_key_env="MY_MINER_KEY", temperature=0.5)
    assert all(c.is_success for c in one_pass([keyed] * 3))
    refused = one_pass([miner(keyed_url)])[0]
    assert refused.return_code == UNKNOWN_EXCEPTION and "HTTP 401" in refused.error
    assert KEY not in keyed.model_dump_json() and KEY.encode() not in cache_file().read_bytes()
    monkeypatch.delenv("MY_MINER_KEY")
    with pytest.raises(MinerError, match="miners.mine: .*api_key_env: the environment variable MY_MINER_KEY"):
        build_population({"mine": {"behaviour": "endpoint", "url": keyed_url, "model": "scripted",
                                   "api_key_env": "MY_MINER_KEY", "count": 1}}, 4)


def test_a_server_that_is_not_there_fails_every_call_and_stops_the_run() -> None:
    calls = one_pass([miner("http://127.0.0.1:9/v1")] * 2)  # port 9: nothing listens
    assert {c.return_code for c in calls} == {UNKNOWN_EXCEPTION}
    assert calls[0].error.startswith("ConnectError")
    pool = DummyDendritePool([miner("http://127.0.0.1:9/v1")] * 2)
    pool(ROLES, MESSAGES, np.arange(2), timeout=2.0)
    with pytest.raises(UserError, match="every call of miner 'endpoint' raised .*ConnectError"):
        pool.check_strategies()


def test_respond_answers_one_uid_outside_a_pool(url: str) -> None:
    assert miner(url).respond(Query(tuple(ROLES), tuple(MESSAGES)), 3, np.random.default_rng(0)) == \
        "scripted None 0: Why is the sky blue?"
    with pytest.raises(Exception, match="HTTP 500"):
        miner(url, "error").respond(Query(tuple(ROLES), tuple(MESSAGES)), 3, np.random.default_rng(0))


@pytest.mark.parametrize("params, problem", [
    ({"model": "m"}, "give either url"),
    ({"url": "ftp://x", "model": "m"}, "http:// or https://"),
    ({"url": "http://x"}, "model: the name of the served model is required"),
    ({"url": "http://x", "model": "m", "extra": {"seed": 1}}, "seed cannot be set through extra"),
    ({"url": "http://x", "model": "m", "temperature": []}, "non-empty list"),
    ({"url": "http://x", "model": "m", "api_key_env": "not a name"}, "name of an environment variable"),
])
def test_bad_parameters_are_refused_with_the_problem(params: dict, problem: str) -> None:
    with pytest.raises(MinerError, match=problem):
        build_population({"mine": {"behaviour": "endpoint", "count": 1, **params}}, 4)


def server_connections(port: int) -> int:
    return sum(1 for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port)


def test_fifty_uids_for_two_hundred_passes_lose_no_call_and_leak_no_connection(url: str) -> None:
    port = urlsplit(url).port
    close_connections()
    assert server_connections(port) == 0
    served = requests_served(url)
    shared = miner(url, temperature=0.7, max_connections=16, cache=False)
    pool = DummyDendritePool([shared] * 50)
    seeds = [uid_seed(0, uid) for uid in range(50)]
    for step in range(200):
        calls = pool(["user"], [f"question {step}"], np.arange(50), timeout=10.0)
        assert all(c.is_success for c in calls), {c.error for c in calls}
        assert [c.completion for c in calls] == [f"scripted {seed} 0.7: question {step}" for seed in seeds]
        assert all(0 < c.elapsed < 10.0 for c in calls)
        assert server_connections(port) <= 16
    assert requests_served(url) == served + 10_000
    assert pool.health["endpoint"].calls == 10_000 and pool.health["endpoint"].raised == 0
    close_connections()
    assert server_connections(port) == 0


TOURNAMENT = """\
experiment: {{name: my_miner, seed: 0}}
tracking: {{backend: none}}
data: {{id: prompts, path: builtin:prompts, sample: {{method: first, n: 4}}}}
model:
  id: neuron
  type: neuron
  metagraph: {{n: 16}}
  miners:
    my_miner: {{behaviour: endpoint, count: 3, url: "{url}", model: scripted-20, temperature: 0.7}}
    stalled_miner: {{behaviour: endpoint, count: 2, url: "{url}", model: scripted-300, added_latency: 1.9}}
    flaky_miner: {{behaviour: endpoint, count: 2, url: "{url}", model: flaky, temperature: 0.7}}
    echo: 3
  reward: {{type: LengthRewardModel, cap: 50}}
  timeout: 2.0
query:
  - {{id: forward, requires: [neuron, prompts], entrypoint: Neuron, method: forward, topk: null, passes: 1}}
  - {{id: tournament, requires: [neuron, prompts], entrypoint: Tournament, method: forward, topk: null, steps: 6,
     repetitions: 2, resamples: 200}}
"""


def calls_of(events: pd.DataFrame, behaviour: str) -> list[tuple[int, float, str]]:
    """The (return code, elapsed, error) of every call of ``behaviour`` in a Neuron query's events."""
    return [(code, seconds, error) for row in events.itertuples()
            for name, code, seconds, error in zip(row.behaviours, row.return_codes, row.elapsed, row.errors)
            if name == behaviour]


def test_an_endpoint_strategy_is_judged_in_a_tournament_and_its_calls_recorded(url: str, tmp_path: Path) -> None:
    done = run_config(tmp_path, TOURNAMENT.format(url=url))
    forward, tournament = (record.output for record in done.result.records[-2:])
    events = forward.table("data")
    mine, stalled, flaky = (calls_of(events, name) for name in ("my_miner", "stalled_miner", "flaky_miner"))
    assert len(mine) == 3 * len(events) and all(code == SUCCESS and 0.02 <= s < 1.0 for code, s, _ in mine)
    assert stalled and all((code, seconds) == (TIMEOUT, 2.0) for code, seconds, _ in stalled)
    assert {code for code, _, _ in flaky} == {SUCCESS, UNKNOWN_EXCEPTION}
    assert all(error.startswith("ServerError: HTTP 500") for code, _, error in flaky if code == UNKNOWN_EXCEPTION)
    verdicts = tournament.table("verdicts").set_index("subject")["verdict"].to_dict()
    assert verdicts.pop("flaky_miner") in {"penalized", "failed"}  # which calls fail depends on their order
    # the scripted server restates the prompt: judged as the simulated echo miners are, under a length reward
    assert verdicts == {"my_miner": "penalized", "echo": "penalized", "stalled_miner": "failed"}
    strategies = tournament.table("strategies").set_index("behaviour")
    assert strategies.loc["my_miner", "success_rate"] == 1.0 and strategies.loc["stalled_miner", "success_rate"] == 0
    calls = tournament.table("uid_weights").groupby("behaviour")["calls"].sum()
    assert calls["my_miner"] == 2 * 6 * 3  # every uid queried at every step of both repetitions


NETWORK = """\
experiment: {{name: my_miner_network, seed: 1}}
tracking: {{backend: none}}
data: {{id: prompts, path: builtin:prompts}}
model:
  id: net
  type: network
  metagraph: {{n: 24}}
  miners: {{my_miner: {{behaviour: endpoint, count: 4, url: "{url}", model: scripted-10, temperature: 0.5}}, slow: 4}}
  validators: {{honest: {{count: 3, neuron: {{reward: {{type: LengthRewardModel, cap: 50}}}}, topk: 8}}}}
  chain: {{tempo: 4, forward_passes_per_block: 1, weights_set_rate_limit: 5, max_weight_limit: 65535}}
query: {{id: run, requires: [net, prompts], entrypoint: Network, epochs: 4, warmup: 1, repetitions: 1}}
"""


def test_an_endpoint_strategy_plays_in_a_network_of_validators(url: str, tmp_path: Path) -> None:
    served = requests_served(url)
    output = run_config(tmp_path, NETWORK.format(url=url)).output
    miners = output.table("miners").groupby("label")["calls"].sum()
    assert miners["my_miner"] > 0 and requests_served(url) > served
    shares = output.table("shares")
    mine = shares[(shares["side"] == "miners") & (shares["group"] == "my_miner")]
    assert len(mine) == 4 and (mine["share"] > 0).all()  # every epoch, the honest validators paid it


def test_a_tournament_against_a_server_that_is_not_there_stops_with_one_line(tmp_path: Path) -> None:
    lines = TOURNAMENT.format(url="http://127.0.0.1:9/v1").splitlines(keepends=True)
    config = "".join(line for line in lines if "stalled_miner" not in line and "flaky_miner" not in line)
    (tmp_path / "c.yml").write_text(config)
    result = run_cli("run", "--config", "c.yml", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith(
        "mirror-neuron: error: c.yml: model.miners.my_miner (line 9): every call of miner 'my_miner' raised")
    assert "ConnectError" in result.stderr and "Traceback" not in result.stderr
