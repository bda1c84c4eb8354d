"""Calls per second of the `endpoint` miner, and its overhead per call over the server's own time.

A scripted OpenAI-compatible server (``mirror_neuron.serve.ChatServer``, in its own process) answers
each request after ``--delay-ms`` and times itself from the request read to the reply sent. The
endpoint miner plays ``--uids`` uids (default 50) for ``--passes`` passes through a dendrite pool, each
pass a new prompt (nothing cached), under each connection limit of ``--connections``; then one uid
alone for ``--single`` calls (default 1,000), one call at a time. Prints, per setting: calls, lost calls (not a success),
calls/s, the mean elapsed time the pool recorded, the server's mean own time, their difference, and
this process's CPU milliseconds per call. One call at a time, the difference is the overhead per call
(client, HTTP and loopback); with a pass's calls at once it also holds the wait for a free connection
and for the server's threads, as the validator's elapsed times do.

Usage: .venv/bin/python bench/endpoint.py [--uids 50] [--passes 200] [--delay-ms 0 20] [--connections 16 50]
                                         [--single 1000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import numpy as np

from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.miners.chat_client import close_connections
from mirror_neuron.neuron.miners.endpoint import EndpointMiner
from mirror_neuron.serve import ChatHandler, ChatServer, ChatTurn


class TimedHandler(ChatHandler):
    """Answers after the server's delay; adds the seconds from parsed request to sent reply to its total."""

    def answer(self, body: bytes) -> None:
        start = time.perf_counter()
        super().answer(body)
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.seconds += time.perf_counter() - start  # type: ignore[attr-defined]
            self.server.requests += 1  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        if self.path == "/stats":
            self.send_json(200, {"requests": self.server.requests, "seconds": self.server.seconds})  # type: ignore
        else:
            super().do_GET()


def serve(delay: float) -> None:
    """The scripted server (run as ``--serve DELAY``): prints its URL, then serves until killed."""
    def complete(turn: ChatTurn) -> str:
        time.sleep(delay)
        return f"An answer to {turn.chat[-1][1]} with seed {turn.seed}."

    server = ChatServer(("127.0.0.1", 0), "scripted", complete, handler=TimedHandler)
    server.lock, server.seconds, server.requests = threading.Lock(), 0.0, 0  # type: ignore[attr-defined]
    print(f"serving at {server.base_url}", flush=True)
    server.serve_forever()


def stats(url: str) -> dict[str, Any]:
    return json.loads(httpx.get(url.removesuffix("/v1") + "/stats").text)


def measure(url: str, uids: int, passes: int, connections: int) -> dict[str, float]:
    miner = EndpointMiner(url=url, model="scripted", temperature=0.7, max_connections=connections, cache=False)
    pool = DummyDendritePool([miner] * uids)
    before = stats(url)
    elapsed: list[float] = []
    lost = 0
    start, cpu = time.perf_counter(), time.process_time()
    for step in range(passes):
        calls = pool(["user"], [f"question {step} of the bench"], np.arange(uids), timeout=30.0)
        lost += sum(not call.is_success for call in calls)
        elapsed.extend(call.elapsed for call in calls)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = stats(url)
    close_connections()
    calls = uids * passes
    server = (after["seconds"] - before["seconds"]) / (after["requests"] - before["requests"])
    return {"calls": calls, "lost": lost, "served": after["requests"] - before["requests"], "calls/s": calls / wall,
            "elapsed ms": 1000 * float(np.mean(elapsed)), "server ms": 1000 * server,
            "overhead ms": 1000 * (float(np.mean(elapsed)) - server), "client cpu ms": 1000 * cpu / calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, default=50)
    parser.add_argument("--passes", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 50])
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    header = ["delay ms", "uids", "connections", "calls", "lost", "calls/s", "elapsed ms", "server ms",
              "difference ms", "client cpu ms"]
    print("".join(f"{name:>14}" for name in header))
    for delay in args.delay_ms:
        process = subprocess.Popen([sys.executable, __file__, "--serve", str(delay / 1000)], stdout=subprocess.PIPE,
                                   text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().split()[-1]
            settings = [(args.uids, args.passes, limit) for limit in args.connections]
            for uids, passes, connections in [*settings, (1, args.single, 1)]:
                row = measure(url, uids, passes, connections)
                assert row["served"] == row["calls"], f"the server saw {row['served']} of {row['calls']} calls"
                values = [delay, uids, connections, row["calls"], row["lost"], row["calls/s"], row["elapsed ms"],
                          row["server ms"], row["overhead ms"], row["client cpu ms"]]
                print("".join(f"{value:>14.0f}" if i < 5 else f"{value:>14.2f}" for i, value in enumerate(values)),
                      flush=True)
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
