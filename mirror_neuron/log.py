"""What a run tells its user while it works: one line per event on stderr, chunk progress, and the progress
of long loops inside a step (:class:`Progress`)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from mirror_neuron.redact import redact

PROGRESS_EVERY_S = 2.0
_step_name = ""  # the step being run, as the runner names it ("[2/3] query 'forward'")
_line_open = False  # a progress line on a terminal waits for its newline


def say(message: str) -> None:
    """Print ``message`` as one line on stderr, at once (credentials in URLs masked)."""
    _end_open_line()
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


@contextlib.contextmanager
def step_named(name: str) -> Iterator[None]:
    """Inside the block, :class:`Progress` lines start with ``name`` (the runner names the step it runs); a
progress line left open on a terminal (the step failed) is ended with it."""
    global _step_name
    previous, _step_name = _step_name, name
    try:
        yield
    finally:
        _step_name = previous
        _end_open_line()


class Progress:
    """How far a long loop is: ``<step>: forward passes 120/600 (20%), ETA 1m04s[, details]``.

    ``done`` counts units finished before (a resumed step); the ETA rests on the pace of this process
    only. ``details`` adds figures to each line (scorer calls and cache hits). Lines are throttled to one
    every :data:`PROGRESS_EVERY_S` seconds, and the last (all units done, or :meth:`close`) is always said.
    On a terminal the line updates in place; otherwise (a CI log, a file) each is a plain line.
    """

    def __init__(self, unit: str, total: int, done: int = 0, details: Callable[[], str] | None = None) -> None:
        self.unit, self.total, self.done, self.details = unit, total, done, details
        self.name = _step_name
        self._first = done
        self._started = self._said = time.monotonic()
        self._finished = False

    def advance(self, count: int = 1) -> None:
        """``count`` more units are done."""
        self.done += count
        now = time.monotonic()
        if self.done >= self.total or now - self._said >= PROGRESS_EVERY_S:
            self._say(now, final=self.done >= self.total)

    def close(self) -> None:
        """Say the last line, unless it was said (the loop stopped before ``total``)."""
        self._say(time.monotonic(), final=True)

    def line(self, now: float) -> str:
        """The progress line at time ``now`` (of :func:`time.monotonic`)."""
        percent = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.unit} {self.done}/{self.total}{percent}"
        elapsed = now - self._started
        if self.done >= self.total:
            text += f", done in {duration_text(elapsed)}"
        elif self.done > self._first:
            text += f", ETA {duration_text(elapsed / (self.done - self._first) * (self.total - self.done))}"
        extra = self.details() if self.details else ""
        text = f"{text}, {extra}" if extra else text
        return f"{self.name}: {text}" if self.name else text

    def _say(self, now: float, final: bool) -> None:
        global _line_open
        if self._finished:
            return
        self._said, self._finished = now, final
        line = redact(self.line(now))
        if _is_terminal(sys.stderr):
            sys.stderr.write(f"\r{line}\x1b[K" + ("\n" if final else ""))
            sys.stderr.flush()
            _line_open = not final
        else:
            print(line, file=sys.stderr, flush=True)


def _end_open_line() -> None:
    """End a progress line a terminal shows in place, so the next line starts on its own."""
    global _line_open
    if _line_open:
        if _is_terminal(sys.stderr):
            sys.stderr.write("\n")
        _line_open = False


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def duration_text(seconds: float) -> str:
    """``45s``, ``3m05s``, ``2h10m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
