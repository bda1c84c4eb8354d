"""What a run tells its user while it works: one line per event on stderr, and chunk progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from mirror_neuron.redact import redact

PROGRESS_EVERY_S = 2.0


def say(message: str) -> None:
    """Print ``message`` as one line on stderr, at once (credentials in URLs masked)."""
    print(redact(message), file=sys.stderr, flush=True)


def chunk_progress(name: str) -> Callable[[int], None]:
    """A progress hook for :attr:`~mirror_neuron.store.ChunkWriter.on_chunk`: given the count of completed
    chunks, it says ``<name>: N chunk(s) written``, at most once every ``PROGRESS_EVERY_S`` seconds."""
    last = time.monotonic()

    def report(completed: int) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            say(f"{name}: {completed} chunk(s) written")

    return report
