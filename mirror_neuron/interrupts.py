"""Telling the user's Ctrl-C from a ``KeyboardInterrupt`` that code raises by itself.

The CLI runs inside :func:`watching`: a SIGINT handler that remembers the signal before raising
``KeyboardInterrupt`` as Python's own handler does. Code that catches what a miner raises asks
:func:`pressed` whether an interrupt was the user's (stop the run) or the miner's (a failed call).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_pressed = threading.Event()


@contextlib.contextmanager
def watching() -> Iterator[None]:
    """Within the block, remember every SIGINT (main thread only; elsewhere nothing changes); the previous
    handler is restored after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _pressed.clear()
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def pressed() -> bool:
    """Whether the user pressed Ctrl-C (a SIGINT arrived) within :func:`watching`."""
    return _pressed.is_set()


def _on_sigint(number: int, frame: FrameType | None) -> None:
    _pressed.set()
    raise KeyboardInterrupt
