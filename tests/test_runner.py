"""Running experiments: reuse by fingerprint, step selection, and resuming interrupted steps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import hashing
from mirror_neuron.hashing import PACKAGE_ROOT, code_sha256
from mirror_neuron.runner import RunOptions, run_experiment
from tests.conftest import REPO, run_cli
from tests.fixtures.slow_step import slow_echo_config


def write(tmp_path: Path, delay: float = 0.0) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(slow_echo_config("resume", delay_s=delay))
    return path


def test_second_run_reuses_every_step(tmp_path: Path) -> None:
    options = RunOptions(config=write(tmp_path), out=tmp_path / "out", store=tmp_path / "store")
    first = run_experiment(options)
    assert [r.status for r in first.records] == ["computed", "computed"]
    second = run_experiment(options)
    assert [r.status for r in second.records] == ["reused", "reused"]
    assert [r.fingerprint for r in first.records] == [r.fingerprint for r in second.records]
    linked = tmp_path / "out" / "slow"
    assert linked.is_symlink() and (linked / "manifest.json").is_file()
    assert pd.read_parquet(linked / "data.parquet")["length"].gt(0).all()
    assert (tmp_path / "out" / "report.md").is_file() and (tmp_path / "out" / "run.json").is_file()


def test_a_change_to_the_code_recomputes_instead_of_reusing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = RunOptions(config=write(tmp_path), out=tmp_path / "out", store=tmp_path / "store")
    before = run_experiment(options).records
    assert before[0].output.manifest["code_sha256"] == code_sha256()
    copy = Path(shutil.copytree(PACKAGE_ROOT, tmp_path / "edited", ignore=shutil.ignore_patterns("__pycache__")))
    step = copy / "steps" / "data" / "step.py"
    step.write_text(step.read_text() + "\n# edited\n")
    monkeypatch.setattr(hashing, "PACKAGE_ROOT", copy)
    code_sha256.cache_clear()
    try:
        after = run_experiment(options).records
    finally:
        monkeypatch.undo()
        code_sha256.cache_clear()
    assert [r.status for r in after] == ["computed", "computed"]
    assert all(a.fingerprint != b.fingerprint for a, b in zip(after, before))
    pd.testing.assert_frame_equal(after[1].output.table(), before[1].output.table())
    assert [r.status for r in run_experiment(options).records] == ["reused", "reused"]  # back to the same tree


def test_a_changed_upstream_changes_downstream_fingerprints(tmp_path: Path) -> None:
    options = RunOptions(config=write(tmp_path), out=tmp_path / "out", store=tmp_path / "store")
    before = run_experiment(options).records
    after = run_experiment(RunOptions(**{**vars(options), "overrides": ["data.sample={method: first, n: 8}"]})).records
    assert [r.status for r in after] == ["computed", "computed"]
    assert before[1].fingerprint != after[1].fingerprint
    assert after[1].rows == {"data": 8}


def test_steps_selects_by_kind_and_computes_missing_upstreams(tmp_path: Path) -> None:
    options = RunOptions(config=write(tmp_path), out=tmp_path / "out", store=tmp_path / "store", steps="query")
    result = run_cli("run", "--config", str(options.config), "--out", str(options.out),
                     "--store", str(options.store), "--steps", "query")
    assert result.returncode == 0, result.stderr
    assert "data 'prompts': computing" in result.stderr and "required upstream; no stored output matches" in result.stderr
    again = run_cli("run", "--config", str(options.config), "--out", str(options.out),
                    "--store", str(options.store), "--steps", "slow", "--force")
    assert "data 'prompts': reused stored output" in again.stderr
    assert "query 'slow': computing" in again.stderr  # --force recomputes the selected step only
    only_data = run_experiment(RunOptions(**{**vars(options), "steps": "prompts"}))
    assert [r.id for r in only_data.records] == ["prompts"]


def test_a_step_killed_midway_resumes_to_the_same_result(tmp_path: Path) -> None:
    config = write(tmp_path, delay=0.15)
    store = tmp_path / "store"
    command = [sys.executable, "-m", "mirror_neuron", "run", "--config", str(config), "--out", str(tmp_path / "out"),
               "--store", str(store)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _completed_chunks(store) >= 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    interrupted_at = _completed_chunks(store)
    assert 3 <= interrupted_at < 12, "the step should have been killed in the middle"

    resumed = run_cli("run", "--config", str(config), "--out", str(tmp_path / "out"), "--store", str(store))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after {interrupted_at} completed chunk(s)" in resumed.stderr
    reference = run_experiment(RunOptions(config=config, out=tmp_path / "ref", store=tmp_path / "ref-store"))
    expected = reference.records[1].output.table()
    got = pd.read_parquet(tmp_path / "out" / "slow" / "data.parquet")
    pd.testing.assert_frame_equal(got, expected)
    assert got["chunk"].tolist() == sorted(got["chunk"].tolist())


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(tmp_path: Path) -> None:
    config = write(tmp_path, delay=0.15)
    store = tmp_path / "store"
    command = [sys.executable, "-m", "mirror_neuron", "run", "--config", str(config), "--out", str(tmp_path / "out"),
               "--store", str(store)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _completed_chunks(store) >= 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted; rerun the same command to resume" in stderr and "Traceback" not in stderr
    resumed = run_cli("run", "--config", str(config), "--out", str(tmp_path / "out"), "--store", str(store))
    assert resumed.returncode == 0 and "resuming after" in resumed.stderr
    assert len(pd.read_parquet(tmp_path / "out" / "slow" / "data.parquet")) == 48


def _completed_chunks(store: Path) -> int:
    return max((len([c for c in p.iterdir() if not c.name.startswith(".")])
                for p in store.glob("*.partial/chunks") if p.is_dir()), default=0)
