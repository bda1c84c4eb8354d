"""Concurrent calls to OpenAI-compatible chat completion servers, on one event loop per process.

The loop runs on a daemon thread, so the validator's synchronous code starts a pass's calls, does its
simulated work, and then waits for them. Each server (scheme, host and port) has its connection limit:
that many keep-alive connections, kept open between passes, each lent to one call at a time
(:class:`Connections`); :func:`close_connections` closes them all. Every call has a deadline of its
own, counted from when it is sent (waiting for a free connection included). Its outcome is a
:class:`Reply`: the completion, or what went wrong, and the real seconds.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from mirror_neuron.neuron.miners.base import InvalidResponse
from mirror_neuron.redact import redact

T = TypeVar("T")
SHOWN_BODY_CHARS = 120  # of a failed reply's body, in its error message


class ServerError(Exception):
    """The server answered with an HTTP error status."""


@dataclass(frozen=True)
class ChatRequest:
    """One call: the full chat completions ``url``, the JSON ``body`` and the ``headers`` (the API key)."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    max_connections: int


@dataclass(frozen=True)
class Reply:
    """A call's outcome: ``answer`` is the completion, or the exception saying why there is none
    (:class:`TimeoutError` past the deadline, :class:`InvalidResponse` for a reply without a completion);
    ``seconds`` is the real time from sending to the last byte (the deadline, for a timeout)."""

    answer: str | BaseException
    seconds: float

    @property
    def completed(self) -> bool:
        return isinstance(self.answer, str)


class Connections:
    """A server's connections: ``limit`` httpx clients of one keep-alive connection each, lent to one call
    at a time (the most recently used first). One client holding them all would queue the calls in its
    own pool, which checks every connection for every waiting call: twice the time per call."""

    def __init__(self, limit: int) -> None:
        self.clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                                          trust_env=False) for _ in range(limit)]
        self.idle: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for client in self.clients:
            self.idle.put_nowait(client)

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[httpx.AsyncClient]:
        client = await self.idle.get()
        try:
            yield client
        finally:
            self.idle.put_nowait(client)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


class Transport:
    """The event loop thread and the connections to every server this process calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: dict[tuple[str, int], Connections] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="chat-client", daemon=True)
        self.thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def connections(self, url: str, limit: int) -> Connections:
        """The connections to ``url``'s server under this limit (created on the loop's thread)."""
        parts = urlsplit(url)
        origin = (f"{parts.scheme}://{parts.netloc}", limit)
        if origin not in self.servers:
            self.servers[origin] = Connections(limit)
        return self.servers[origin]

    def close(self) -> None:
        """Close every connection (the loop stays, so later calls open new ones)."""
        async def close_all() -> None:
            servers, self.servers = list(self.servers.values()), {}
            for connections in servers:
                await connections.aclose()

        if self.loop.is_running():
            self.submit(close_all()).result()


_transports: dict[int, Transport] = {}
_lock = threading.Lock()


def transport() -> Transport:
    """This process's transport (a forked process starts its own)."""
    with _lock:
        pid = os.getpid()
        if pid not in _transports:
            _transports[pid] = Transport()
        return _transports[pid]


def close_connections() -> None:
    """Close every connection this process keeps open to a server."""
    found = _transports.get(os.getpid())
    if found is not None:
        found.close()


atexit.register(close_connections)


def send_all(requests: Sequence[ChatRequest], deadline: float) -> Future[list[Reply]]:
    """Send ``requests`` at once, each with ``deadline`` seconds to answer; the replies, in order."""
    hub = transport()

    async def gathered() -> list[Reply]:
        return list(await asyncio.gather(*(call(hub, request, deadline) for request in requests)))

    return hub.submit(gathered())


async def call(hub: Transport, request: ChatRequest, deadline: float) -> Reply:
    """One call; every failure becomes the reply's answer, never an exception of the caller."""
    if deadline <= 0:
        return Reply(TimeoutError("no time left to call"), 0.0)
    connections = hub.connections(request.url, request.max_connections)
    start = time.perf_counter()

    async def post() -> httpx.Response:
        async with connections.lend() as client:
            left = max(deadline - (time.perf_counter() - start), 0.001)
            return await client.post(request.url, json=request.body, headers=request.headers, timeout=left)

    try:
        response = await asyncio.wait_for(post(), deadline)
    except (asyncio.TimeoutError, httpx.TimeoutException):
        return Reply(TimeoutError(f"no reply within {deadline:g} s"), deadline)
    except httpx.HTTPError as error:  # refused, reset, closed mid-reply
        return Reply(type(error)(redact(f"{error or type(error).__name__} ({request.url})")),
                     time.perf_counter() - start)
    except Exception as error:  # anything else the client raised is this call's failure too
        return Reply(error, time.perf_counter() - start)
    return Reply(completion(response, request.url), time.perf_counter() - start)


def completion(response: httpx.Response, url: str) -> str | BaseException:
    """The first choice's message content, or why the reply holds none."""
    if response.status_code != 200:
        body = " ".join(response.text.split())[:SHOWN_BODY_CHARS]
        return ServerError(redact(f"HTTP {response.status_code} from {url}: {body}"))
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except json.JSONDecodeError as error:
        return InvalidResponse(f"malformed JSON from {redact(url)} ({error.msg} at character {error.pos})")
    except ValueError:  # not UTF-8
        return InvalidResponse(f"a reply from {redact(url)} that is not UTF-8 text")
    except (KeyError, IndexError, TypeError):
        return InvalidResponse(f"no choices[0].message.content in the reply from {redact(url)}")
    if not isinstance(content, str):
        return InvalidResponse(f"choices[0].message.content is {type(content).__name__}, not text ({redact(url)})")
    return content
