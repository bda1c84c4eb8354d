"""Telling the user's Ctrl-C from a ``KeyboardInterrupt`` that code raises by itself.

The CLI installs :func:`watch`: a SIGINT handler that remembers the signal before raising
``KeyboardInterrupt`` as Python's own handler does. Code that catches what a miner raises asks
:func:`pressed` whether an interrupt was the user's (stop the run) or the miner's (a failed call).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_pressed = threading.Event()


def watch() -> None:
    """Remember every SIGINT from now on (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _pressed.clear()
    signal.signal(signal.SIGINT, _on_sigint)


def pressed() -> bool:
    """Whether the user pressed Ctrl-C (a SIGINT arrived) since :func:`watch`."""
    return _pressed.is_set()


def _on_sigint(number: int, frame: FrameType | None) -> None:
    _pressed.set()
    raise KeyboardInterrupt
