"""One real run of the judged experiment, shared by the report tests."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from mirror_neuron.runner import RunOptions, RunResult, run_experiment
from tests.fixtures.report_steps import judged_config


@dataclass
class JudgedRun:
    config: Path
    result: RunResult
    stderr: str

    @property
    def out(self) -> Path:
        return self.result.out

    @property
    def html(self) -> str:
        return (self.out / "report.html").read_text()


@pytest.fixture(scope="session")
def judged_run(tmp_path_factory: pytest.TempPathFactory) -> JudgedRun:
    root = tmp_path_factory.mktemp("judged")
    config = root / "judged.yml"
    config.write_text(judged_config())
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        result = run_experiment(RunOptions(config=config, out=root / "out", store=root / "store"))
    return JudgedRun(config, result, stderr.getvalue())
