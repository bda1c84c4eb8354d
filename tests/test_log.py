"""What a run prints while it works."""

from __future__ import annotations

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
