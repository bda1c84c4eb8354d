"""The endpoint miner: a real model server behind the OpenAI-compatible chat completions API.

What vLLM, llama.cpp's server, text-generation-inference, most hosted APIs and ``mirror-neuron serve``
expose. The validator's messages become the request's messages; every uid the behaviour plays sends
its own request (its own seed, drawn from (``seed``, uid), and its temperature), to its server. A pass's
calls go out together (:mod:`.chat_client`), each with the validator's timeout, and their real elapsed
times, plus any ``added_latency``, decide timeouts as simulated ones do. Completions are cached by
content (server, model, messages, parameters, seed) with the real seconds they took, so repetitions
and reruns do not call the server twice; failed calls are never cached.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, field_validator, model_validator

from mirror_neuron.errors import UserError
from mirror_neuron.limits import AtMost
from mirror_neuron.neuron.miners.base import Behaviour, Query, TimedAnswer
from mirror_neuron.neuron.miners.chat_client import ChatRequest, Reply, send_all
from mirror_neuron.neuron.miners.generation_cache import GenerationCache, cache_file, generation_key, open_cache
from mirror_neuron.neuron.miners.lm import uid_seed
from mirror_neuron.redact import split_credentials
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed

CHAT_ROUTE = "/chat/completions"
ONE_CALL_TIMEOUT = 60.0  # seconds, for a call made outside a dendrite pool (which gives the validator's)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Server(BaseModel):
    """One model server: its base ``url`` (``http://host:port/v1``) and the ``model`` name it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    model: str | None = None  # unset: the miner's model

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not re.match(r"https?://[^/\s]+", url):
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        return url

    @property
    def route(self) -> str:
        """The chat completions URL (the base URL, or the route itself when given)."""
        base = self.url.rstrip("/")
        return base if base.endswith(CHAT_ROUTE) else base + CHAT_ROUTE


@component("behaviour", "endpoint",
           summary="calls a real model server over the OpenAI-compatible chat completions API (url, model)")
class EndpointMiner(Behaviour):
    """Answers with a model server's chat completion: ``url`` and ``model``, or ``servers`` (a list of
    ``{url, model}``; uid ``u`` calls server ``u mod len(servers)``).

    ``temperature`` (one value, or one per uid: uid ``u`` takes value ``u mod len``), ``top_p``,
    ``max_tokens`` and ``extra`` (other body fields, such as ``stop``) go into every request; above
    temperature 0 each uid sends its own ``seed``. ``api_key_env`` names the environment variable that
    holds the API key (sent as a bearer token, never stored). ``max_connections`` limits the open
    connections per server; ``added_latency`` simulated seconds are added to each call's real time (a
    miner farther from the validator), leaving the call that much less of the timeout. ``cache: false``
    calls the server again for what was cached. The latency parameters are not used: calls take their
    real time.
    """

    remote = True
    url: str | None = None
    model: str | None = None
    servers: tuple[Server, ...] = ()
    api_key_env: str | None = None
    max_tokens: Annotated[PositiveInt, AtMost("tokens")] = 48
    temperature: NonNegativeFloat | tuple[NonNegativeFloat, ...] = 0.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    extra: dict[str, Any] = {}
    seed: Seed | None = None  # unset: the neuron's miners_seed (0 outside a neuron)
    max_connections: PositiveInt = 16
    added_latency: NonNegativeFloat = 0.0
    cache: bool = True

    @field_validator("api_key_env")
    @classmethod
    def _key_is_set(cls, name: str | None) -> str | None:
        """A missing key is refused at validation, before anything calls the server."""
        if name is not None and not ENV_NAME.fullmatch(name):
            raise ValueError(f"expected the name of an environment variable, got {name!r}")
        if name is not None and not os.environ.get(name):
            raise ValueError(f"the environment variable {name} (the server's API key) is not set")
        return name

    @field_validator("temperature")
    @classmethod
    def _some_temperature(cls, value: float | tuple[float, ...]) -> float | tuple[float, ...]:
        if isinstance(value, tuple) and not value:
            raise ValueError("expected a temperature, or a non-empty list of them")
        return value

    @field_validator("extra")
    @classmethod
    def _no_fixed_fields(cls, extra: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted(set(extra) & {"model", "messages", "seed", "stream", "n"})
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot be set through extra (the miner sets them)")
        return extra

    @model_validator(mode="after")
    def _one_way_to_the_servers(self) -> EndpointMiner:
        if (self.url is None) == (not self.servers):
            raise ValueError("give either url (with model) or servers, a list of {url, model}")
        if self.url is not None:
            Server(url=self.url)  # the same check as a listed server's
        if any((server.model or self.model) is None for server in self.targets):
            raise ValueError("model: the name of the served model is required (for every server)")
        return self

    @property
    def targets(self) -> tuple[Server, ...]:
        """The servers, as listed (or the one ``url``)."""
        return self.servers or (Server(url=self.url or "", model=self.model),)

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        answer = self.start_calls(query, [uid], ONE_CALL_TIMEOUT)()[0].answer
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def start_calls(self, query: Query, uids: list[int], timeout: float) -> Callable[[], list[TimedAnswer]]:
        """Send each uid's request (a cached completion is not sent; with ``cache`` on, uids whose requests
        are alike share one call) and return the function that waits for the answers."""
        chat = [{"role": role, "content": content} for role, content in query.chat_messages()]
        requests = [self.request(chat, uid) for uid in uids]
        keys = [self.key(request) for request in requests]
        store = self.generation_cache()
        cached = store.get_timed(keys) if store is not None else {}
        sent = list(zip(keys, requests)) if store is None else \
            list({key: request for key, request in zip(keys, requests) if key not in cached}.items())
        replies = send_all([request for _, request in sent], timeout - self.added_latency)

        def wait() -> list[TimedAnswer]:
            got = replies.result()
            if store is None:  # every uid made its own call
                return [self._answer(reply) for reply in got]
            by_key = dict(zip((key for key, _ in sent), got))
            done = {key: reply for key, reply in by_key.items() if reply.completed}
            store.put({key: str(reply.answer) for key, reply in done.items()},
                      {key: reply.seconds for key, reply in done.items()})
            return [self._timed(cached[key]) if key in cached else self._answer(by_key[key]) for key in keys]

        return wait

    def request(self, chat: list[dict[str, str]], uid: int) -> ChatRequest:
        """The call ``uid`` makes: its server, the body (with its seed above temperature 0) and the key."""
        server = self.targets[uid % len(self.targets)]
        temperature = self.temperature[uid % len(self.temperature)] if isinstance(self.temperature, tuple) \
            else self.temperature
        body: dict[str, Any] = {**self.extra, "model": server.model or self.model, "messages": chat,
                                "max_tokens": self.max_tokens, "temperature": temperature, "top_p": self.top_p}
        if temperature > 0:
            body["seed"] = uid_seed(self.seed or 0, uid)
        return ChatRequest(server.route, body, self.headers(), self.max_connections)

    def headers(self) -> dict[str, str]:
        """The API key, read from its environment variable at every call (never kept)."""
        if self.api_key_env is None:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise UserError(f"the environment variable {self.api_key_env} (the server's API key) is not set",
                            "api_key_env")
        return {"Authorization": f"Bearer {key}"}

    @staticmethod
    def key(request: ChatRequest) -> str:
        """The cache key: the server (without credentials), the model, the messages, the seed, the rest."""
        body = dict(request.body)
        model, chat, seed = body.pop("model"), body.pop("messages"), body.pop("seed", None)
        server = split_credentials(request.url)[0]
        return generation_key(f"endpoint:{server}:{model}", [(m["role"], m["content"]) for m in chat], seed, body)

    def generation_cache(self) -> GenerationCache | None:
        """The cache this miner reads and fills (None with ``cache: false``)."""
        return open_cache(cache_file()) if self.cache else None

    def _answer(self, reply: Reply) -> TimedAnswer:
        if isinstance(reply.answer, TimeoutError):
            return TimedAnswer(reply.answer, math.inf)  # past the timeout, whatever was added
        return TimedAnswer(reply.answer, reply.seconds + self.added_latency)

    def _timed(self, cached: tuple[str, float | None]) -> TimedAnswer:
        completion, seconds = cached
        return TimedAnswer(completion, (seconds or 0.0) + self.added_latency)
