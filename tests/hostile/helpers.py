"""Running the real CLI in-process on hostile input, and what every refusal must look like."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_neuron.cli import main

DATA = """\
experiment: {name: hostile}
tracking: {backend: none}
data:
  id: prompts
  path: builtin:prompts
  sample: {method: first, n: 3}
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``mirror-neuron ARGS``: the exit code and what went to stderr."""
    code = main(list(args))
    return code, capsys.readouterr().err


def refused(code: int, stderr: str, *phrases: str) -> str:
    """Assert a user error: exit code 2, no traceback, and one error line (the last: a run may have said
    which step it started before it), holding each phrase; return that line."""
    assert code == 2, stderr
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert lines and lines[-1].startswith("mirror-neuron: error: "), stderr
    assert sum(line.startswith("mirror-neuron: error: ") for line in lines) == 1, stderr
    assert all(line.startswith(("experiment '", "[")) for line in lines[:-1]), stderr  # progress lines only
    for phrase in phrases:
        assert phrase in lines[-1], stderr
    return lines[-1]


def config(folder: Path, text: str = DATA, name: str = "c.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def tree(folder: Path) -> list[str]:
    """Every path below ``folder``, relative and sorted (to show that nothing was written)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
