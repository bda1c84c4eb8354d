"""Sweeps on a real Ray runtime: a local one (``--ray``) and a ``ray start --head`` cluster on loopback that the
sweep joins (``--ray-address``); both give the serial run's points table, a tournament's repetitions running as
Ray tasks too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.sweep.executors import make_executor
from mirror_neuron.sweep.run import SweepOptions, run_sweep
from tests.conftest import run_cli, write_config
from tests.fixtures.sweeps import FILTERS_BY_STEPS, comparable, tournament_sweep

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head node on loopback (2 CPUs), in a process of its own that is stopped afterwards."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("ray")
    process = subprocess.Popen([str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                                f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                                "--disable-usage-stats", f"--temp-dir={folder}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, "ray start --head stopped"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # --block: the head stops its own processes on SIGTERM
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_local_ray_runtime_gives_the_serial_table(serial: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_sweep(SweepOptions(config=config, out=tmp_path / "out", store=tmp_path / "store", ray=True, jobs=2))
    pd.testing.assert_frame_equal(comparable(result.table), comparable(serial[1]))
    import ray

    assert not ray.is_initialized()  # ray.shutdown() always


def test_points_that_fill_the_cluster_run_their_repetitions_in_their_own_worker(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_cli("sweep", "--config", str(config), "--out", str(tmp_path / "out"), "--store",
                     str(tmp_path / "store"), "--ray", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert "as Ray tasks" not in result.stderr  # 2 points on 2 CPUs: more tasks would only compete for them
    assert "2/2 repetitions done" in result.stderr  # a point's progress lines reach the terminal


def test_a_sweep_joins_a_cluster_with_ray_address(serial: tuple[Path, pd.DataFrame], tmp_path: Path,
                                                  head: str) -> None:
    config = write_config(tmp_path / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_cli("sweep", "--config", str(config), "--out", str(tmp_path / "out"), "--store",
                     str(tmp_path / "store"), "--ray-address", head, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert "4 to run (ray)" in result.stderr
    # one point at a time leaves its 2 CPUs to its repetitions: they run as Ray tasks on the same cluster
    assert result.stderr.count("tournament: 2 repetition(s) as Ray tasks") == 4
    table = pd.read_parquet(tmp_path / "out" / "points.parquet")
    pd.testing.assert_frame_equal(comparable(table), comparable(serial[1]))


def test_an_address_nothing_answers_on_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_cli("sweep", "--config", str(config), "--out", str(tmp_path / "out"), "--store",
                     str(tmp_path / "store"), "--ray-address", f"127.0.0.1:{_free_port()}", timeout=60)
    assert result.returncode == 2
    assert "nothing answers there" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_jobs_count_is_refused() -> None:
    with pytest.raises(UserError, match="--jobs 0: expected a positive number"):
        make_executor(0, False, None)
