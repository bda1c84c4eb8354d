"""What a run prints while it works."""

from __future__ import annotations

import io
import sys

import pytest

from mirror_neuron import log


def test_say_prints_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log.say("step 'x': computing")
    assert capsys.readouterr() == ("", "step 'x': computing\n")


def test_chunk_progress_speaks_at_most_once_per_interval(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    report = log.chunk_progress("[1/2] query 'q'")
    for completed in range(1, 4):
        report(completed)
    assert capsys.readouterr().err == ""  # all within the first interval
    monkeypatch.setattr(log, "PROGRESS_EVERY_S", 0.0)
    report(4)
    report(5)
    assert capsys.readouterr().err == "[1/2] query 'q': 4 chunk(s) written\n[1/2] query 'q': 5 chunk(s) written\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_says_plain_lines_with_an_eta_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr(log.time, "monotonic", lambda: next(clock))
    with log.step_named("[2/3] query 'forward'"):
        progress = log.Progress("forward passes", 4, details=lambda: "scorer calls 8 (6 cached)")
    progress.advance()  # 1 s after the start: throttled
    monkeypatch.setattr(log, "PROGRESS_EVERY_S", 0.0)
    progress.advance()
    progress.advance(2)
    progress.advance()  # past the total: the last line was said
    progress.close()
    assert stream.getvalue().splitlines() == [
        "[2/3] query 'forward': forward passes 2/4 (50%), ETA 2s, scorer calls 8 (6 cached)",
        "[2/3] query 'forward': forward passes 4/4 (100%), done in 3s, scorer calls 8 (6 cached)"]


def test_progress_of_a_resumed_loop_counts_from_where_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    progress = log.Progress("repetitions", 10, done=6)
    progress.close()  # stopped early: the line says so, with no ETA before a unit was done here
    assert stream.getvalue() == "repetitions 6/10 (60%)\n"


def test_progress_updates_one_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(log, "PROGRESS_EVERY_S", 0.0)
    progress = log.Progress("steps", 3)
    progress.advance()
    log.say("a message")  # ends the open line first
    progress.advance()
    progress.advance()
    text = stream.getvalue()
    assert text.startswith("\rsteps 1/3 (33%), ETA ") and "\x1b[K\na message\n\rsteps 2/3 (67%)" in text
    assert text.count("\n") == 2 + 1 and text.endswith("\x1b[K\n") and "\rsteps 3/3 (100%), done in" in text


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (45, "45s"), (185, "3m05s"), (7830, "2h10m")])
def test_durations_read_at_a_glance(seconds: float, text: str) -> None:
    assert log.duration_text(seconds) == text


def test_a_step_that_fails_mid_line_leaves_the_terminal_on_a_new_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(log, "PROGRESS_EVERY_S", 0.0)
    with pytest.raises(RuntimeError), log.step_named("[1/1] query 'q'"):
        log.Progress("forward passes", 10).advance()
        raise RuntimeError("a miner's model failed")
    assert stream.getvalue().startswith("\r[1/1] query 'q': forward passes 1/10 (10%), ETA 0s")
    assert stream.getvalue().endswith("\x1b[K\n")
