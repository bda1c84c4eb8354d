"""``mirror-neuron serve``: a local model behind the OpenAI-compatible chat completions API.

``POST /v1/chat/completions`` answers ``{model, messages, max_tokens, temperature, top_p, seed}`` with
``choices[0].message.content``; ``GET /v1/models`` lists the served model. Requests that arrive together
with the same generation settings are generated in one batch (each with its own seed), as vLLM batches
them. With an API key, requests without ``Authorization: Bearer <key>`` get 401. A stand-in for the
miner's own server when there is no vLLM at hand, and the server the tests call.
"""

from __future__ import annotations

import json
import queue
import secrets
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mirror_neuron.limits import limit

ROUTES = ("/v1/chat/completions", "/chat/completions")
DEFAULT_MAX_TOKENS = 128
BATCH_WAIT = 0.005  # seconds a batch waits for requests arriving with its first
MAX_BODY_BYTES = 10_000_000


class BadRequest(ValueError):
    """A request the server cannot answer; its message goes back with status 400."""


class ClientGone(ConnectionError):
    """The client hung up before its completion was generated."""


@dataclass(frozen=True)
class ChatTurn:
    """What one request asks: the (role, content) messages and the generation settings; ``gone`` tells
    whether its client has hung up (a validator past its timeout), so that nothing is generated for it."""

    model: str
    chat: tuple[tuple[str, str], ...]
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    gone: Callable[[], bool] = field(default=lambda: False, compare=False, repr=False)

    @property
    def settings(self) -> tuple[int, float, float]:
        """What requests must share to be generated in one batch."""
        return self.max_tokens, self.temperature, self.top_p

    @classmethod
    def parse(cls, body: bytes, gone: Callable[[], bool] = lambda: False) -> ChatTurn:
        try:
            request = json.loads(body)
        except ValueError as error:
            raise BadRequest(f"the body is not JSON ({error})") from None
        if not isinstance(request, dict):
            raise BadRequest("the body must be a JSON object")
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in messages):
            raise BadRequest("messages: expected a non-empty list of {role, content} with text content")
        numbers = {"max_tokens": request.get("max_tokens") or DEFAULT_MAX_TOKENS,
                   "temperature": request.get("temperature", 1.0), "top_p": request.get("top_p", 1.0)}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers.values()):
            raise BadRequest("max_tokens, temperature and top_p must be numbers")
        seed = request.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63):
            raise BadRequest("seed must be a non-negative whole number")
        if not 0 < numbers["max_tokens"] <= limit("tokens") or numbers["temperature"] < 0 \
                or not 0 < numbers["top_p"] <= 1:
            raise BadRequest(f"expected 0 < max_tokens <= {limit('tokens')}, temperature >= 0 and 0 < top_p <= 1")
        return cls(str(request.get("model", "")), tuple((m["role"], m["content"]) for m in messages),
                   int(numbers["max_tokens"]), float(numbers["temperature"]), float(numbers["top_p"]), seed, gone)


Generate = Callable[[list[ChatTurn]], list[str]]  # one completion per request, in order


class Batcher:
    """Hands ``generate`` the requests that arrive together, in batches of alike settings, one batch at a time;
    requests whose client has hung up meanwhile are dropped."""

    def __init__(self, generate: Generate, max_batch: int = 64, wait: float = BATCH_WAIT) -> None:
        self.generate = generate
        self.max_batch = max_batch
        self.wait = wait
        self.pending: queue.Queue[tuple[ChatTurn, Future[str]]] = queue.Queue()
        threading.Thread(target=self._work, name="batcher", daemon=True).start()

    def __call__(self, turn: ChatTurn) -> str:
        done: Future[str] = Future()
        self.pending.put((turn, done))
        return done.result()

    def _work(self) -> None:
        while True:
            batch = [self.pending.get()]
            until = time.monotonic() + self.wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.pending.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            groups: dict[tuple[int, float, float], list[tuple[ChatTurn, Future[str]]]] = {}
            for turn, done in batch:
                if turn.gone():
                    done.set_exception(ClientGone())
                else:
                    groups.setdefault(turn.settings, []).append((turn, done))
            for group in groups.values():
                try:
                    for (_, done), text in zip(group, self.generate([turn for turn, _ in group]), strict=True):
                        done.set_result(text)
                except Exception as error:  # the requests fail, the server stays up
                    for _, done in group:
                        done.set_exception(error)


def model_generator(path: str) -> Generate:
    """Generation with the causal LM at ``path``, loaded now (as the ``lm`` miner loads it); unseeded sampling
    draws a seed."""
    from mirror_neuron.neuron.miners.lm import generate_chats, shared_model

    shared_model(path)

    def generate(turns: list[ChatTurn]) -> list[str]:
        max_tokens, temperature, top_p = turns[0].settings
        seeds = [None if temperature == 0 else turn.seed if turn.seed is not None else secrets.randbits(32)
                 for turn in turns]
        return generate_chats(path, [list(turn.chat) for turn in turns], seeds, max_tokens, temperature, top_p)

    return generate


class ChatServer(ThreadingHTTPServer):
    """Serves ``complete`` (a request in, its completion out) as the model ``name``."""

    daemon_threads = True
    request_queue_size = 256  # a validator opens many connections at once

    def __init__(self, address: tuple[str, int], name: str, complete: Callable[[ChatTurn], str],
                 api_key: str | None = None, handler: type[BaseHTTPRequestHandler] | None = None) -> None:
        self.name = name
        self.complete = complete
        self.api_key = api_key
        super().__init__(address, handler or ChatHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is no error of the server's; anything else is reported as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    """The routes: ``POST /v1/chat/completions`` and ``GET /v1/models``."""

    protocol_version = "HTTP/1.1"  # keep-alive: a client reuses its connections
    disable_nagle_algorithm = True  # the body follows the headers at once, not after the client's delayed ACK
    server: ChatServer

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self.send_json(200, {"object": "list", "data": [{"id": self.server.name, "object": "model"}]})
        else:
            self.send_json(404, error(f"no route {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_json(413, error(f"the body is larger than {MAX_BODY_BYTES} bytes"))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        if self.path.rstrip("/") not in ROUTES:
            self.send_json(404, error(f"no route {self.path}"))
        elif self.server.api_key and self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            self.send_json(401, error("missing or wrong API key"))
        else:
            self.answer(body)

    def answer(self, body: bytes) -> None:
        """Parse the request, complete it, send the completion."""
        try:
            turn = ChatTurn.parse(body, self.client_gone)
        except BadRequest as problem:
            self.send_json(400, error(str(problem)))
            return
        if turn.model != self.server.name:
            self.send_json(404, error(f"the model '{turn.model}' is not served here (this server: "
                                      f"'{self.server.name}')"))
            return
        try:
            text = self.server.complete(turn)
        except ClientGone:
            self.close_connection = True
            return
        except Exception as failure:
            self.send_json(500, error(f"generation failed: {type(failure).__name__}: {failure}"))
            return
        self.send_json(200, chat_completion(turn.model, text))

    def client_gone(self) -> bool:
        """Whether the client closed its connection (it has nothing more to send, so a readable socket
        with no bytes in it is one that was closed)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request would flood
        pass


def chat_completion(model: str, text: str) -> dict[str, Any]:
    """The OpenAI chat completion object for one completion."""
    return {"id": f"chatcmpl-{secrets.token_hex(8)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}]}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}
