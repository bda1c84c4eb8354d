"""Shared fixtures: the real data sets beside the project, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own store and generation cache, offline W&B and no hub access."""
    monkeypatch.setenv("MIRROR_NEURON_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("MIRROR_NEURON_GENERATIONS", str(tmp_path / "generations.sqlite"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


@pytest.fixture
def shared_data() -> Path:
    assert SHARED_DATA.is_dir(), f"the real data sets are expected at {SHARED_DATA}"
    return SHARED_DATA


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mirror_neuron ARGS`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "mirror_neuron", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
