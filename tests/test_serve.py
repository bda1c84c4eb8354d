"""``mirror-neuron serve`` puts a local model behind the OpenAI-compatible chat completions API: SmolLM2
answers the endpoint miner as the lm miner would, concurrent requests are batched, bad requests get
the API's error statuses, and the command's own errors are one line."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.miners.endpoint import EndpointMiner
from mirror_neuron.neuron.miners.lm import LanguageModelMiner
from mirror_neuron.serve import Batcher, ChatTurn, ClientGone
from tests.conftest import run_cli
from tests.fixtures.chat_servers import running

QUERY = Query(("system", "user"), ("You are a helpful assistant.", "What is the capital of France?"))
KEY = "sk-served-0987654321"


def serve(*args: str, env: dict[str, str] | None = None) -> contextlib.AbstractContextManager[str]:
    return running(sys.executable, "-m", "mirror_neuron", "serve", "--port", "0", *args, env=env)


@pytest.fixture(scope="module")
def smollm2() -> Iterator[str]:
    with serve("--model", "smollm2") as url:
        yield url


def ask(url: str, body: dict, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + "/chat/completions", json=body, headers=headers, timeout=120)


def test_served_smollm2_answers_the_endpoint_miner_as_the_lm_miner_generates(smollm2: str) -> None:
    greedy = DummyDendritePool([EndpointMiner(url=smollm2, model="smollm2", max_tokens=12)] * 2)
    calls = greedy(list(QUERY.roles), list(QUERY.messages), np.arange(2), timeout=120)
    assert all(c.is_success and "Paris" in c.completion for c in calls)
    sampled = EndpointMiner(url=smollm2, model="smollm2", max_tokens=12, temperature=0.8, seed=3, cache=False)
    served = DummyDendritePool([sampled] * 3)(list(QUERY.roles), list(QUERY.messages), np.arange(3), timeout=120)
    local = LanguageModelMiner(path="smollm2", max_new_tokens=12, temperature=0.8, seed=3, cache=False)
    assert [c.completion for c in served] == local.respond_many(QUERY, [0, 1, 2], np.random.default_rng(0))
    assert len({c.completion for c in served}) == 3


def test_the_served_model_refuses_what_the_api_refuses(smollm2: str) -> None:
    chat = [{"role": "user", "content": "Hi"}]
    assert ask(smollm2, {"model": "gpt-4", "messages": chat}).status_code == 404
    assert ask(smollm2, {"model": "smollm2", "messages": []}).status_code == 400
    assert ask(smollm2, {"model": "smollm2", "messages": chat, "temperature": -1}).status_code == 400
    bad = httpx.post(smollm2 + "/chat/completions", content=b"{not json", timeout=30)
    assert bad.status_code == 400 and "not JSON" in bad.json()["error"]["message"]
    models = httpx.get(smollm2 + "/models", timeout=30).json()
    assert models["data"] == [{"id": "smollm2", "object": "model"}]


def test_a_served_model_with_an_api_key_refuses_requests_without_it() -> None:
    with serve("--model", "tiny:gpt2", "--name", "tiny", "--api-key-env", "SERVED_KEY",
               env={"SERVED_KEY": KEY}) as url:
        body = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
        assert ask(url, body).status_code == 401
        answered = ask(url, body, KEY)
        assert answered.status_code == 200 and isinstance(answered.json()["choices"][0]["message"]["content"], str)


def test_serve_errors_are_one_line() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        result = run_cli("serve", "--model", "tiny:gpt2", "--port", str(taken.getsockname()[1]))
    finally:
        taken.close()
    assert result.returncode == 2 and result.stderr.strip().endswith("the port is in use; pick another")
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("serve", "--model", "/no/such/model")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    unset = run_cli("serve", "--model", "tiny:gpt2", "--api-key-env", "NO_SUCH_KEY_SET")
    assert unset.returncode == 2 and "NO_SUCH_KEY_SET is not set" in unset.stderr


def test_requests_arriving_together_are_generated_in_batches_of_alike_settings() -> None:
    batches: list[list[ChatTurn]] = []

    def generate(turns: list[ChatTurn]) -> list[str]:
        batches.append(turns)
        time.sleep(0.05)
        return [f"{turn.chat[-1][1]} at {turn.temperature}" for turn in turns]

    batcher = Batcher(generate, max_batch=8, wait=0.05)
    turns = [ChatTurn("m", (("user", f"q{i}"),), temperature=float(i % 2)) for i in range(12)]
    answers: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, batcher(turns[i]))) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert answers == {i: f"q{i} at {float(i % 2)}" for i in range(12)}
    assert all(len({turn.settings for turn in batch}) == 1 for batch in batches)
    assert len(batches) < 12 and max(len(batch) for batch in batches) > 1


def test_requests_whose_client_hung_up_are_not_generated() -> None:
    generated: list[str] = []

    def generate(turns: list[ChatTurn]) -> list[str]:
        generated.extend(turn.chat[-1][1] for turn in turns)
        return ["done"] * len(turns)

    batcher = Batcher(generate)
    with pytest.raises(ClientGone):
        batcher(ChatTurn("m", (("user", "gone"),), gone=lambda: True))
    assert batcher(ChatTurn("m", (("user", "here"),))) == "done" and generated == ["here"]
