"""Running sweeps: every point validated first, points run serially or in worker processes, shared steps
computed once, the points table and report, and a killed sweep resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from mirror_neuron.sweep.run import SweepOptions, run_sweep
from tests.conftest import REPO, run_cli, write_config
from tests.fixtures.sweeps import FILTERS_BY_STEPS, comparable, slow_sweep, tournament_sweep
from tests.tracking.wandb_records import find_run_files, read_run


def test_the_points_table_holds_values_figures_and_verdicts(serial: tuple[Path, pd.DataFrame]) -> None:
    folder, table = serial
    stored = pd.read_parquet(folder / "out" / "points.parquet")
    pd.testing.assert_frame_equal(stored, table)
    assert table["point"].tolist() == [0, 1, 2, 3]
    assert table["model.reward.filters"].tolist() == ["{}", "{}", '{"blacklist": {}}', '{"blacklist": {}}']
    assert table["query.steps"].tolist() == [30, 40, 30, 40]
    assert table["tournament/ratio/echo"].gt(0).all() and table["tournament/ratio/honest"].eq(1).all()
    assert set(table["tournament/verdict/echo"]) <= {"exploit", "neutral", "penalized", "failed", "weight_leak"}
    assert (table["tournament/verdict/honest_twin"] == "neutral").all()
    counted = table[[c for c in table if c.startswith("verdicts/")]].sum(axis=1)
    assert (counted == 2).all()  # echo and honest_twin judged in every point
    for point in table.itertuples():  # each point is a normal run folder, grouped under the sweep
        index = json.loads((folder / "out" / point.name / "run.json").read_text())
        assert index["experiment"]["name"] == f"filters-sweep.{point.name}" and index["sweep"]["point"] == point.point
    page = (folder / "out" / "report.html").read_text()
    assert "What the swept values change" in page and "point-003/report.html" in page
    # the blacklist closes echo: the points where it flipped are compared with the first, key by key
    assert table["tournament/verdict/echo"].tolist() == ["exploit", "exploit", "penalized", "penalized"]
    flipped = page[page.index('<section id="flipped">'):page.index('<section id="plots">')]
    assert "filters-sweep.point-000 and filters-sweep.point-002" in flipped and "point-001" not in flipped
    assert "flipped" in flipped and "reward.filters.blacklist" in flipped
    assert {p.name for p in (folder / "out" / "plots").glob("*.png")} >= {"00-heatmap.png", "00-lines.png",
                                                                         "verdict-counts.png"}


def test_a_rerun_reuses_every_finished_point_whole(serial: tuple[Path, pd.DataFrame]) -> None:
    folder, table = serial
    again = run_cli("sweep", "--config", str(folder / "c.yml"), "--out", str(folder / "out"),
                    "--store", str(folder / "store"))
    assert again.returncode == 0, again.stderr
    assert "4 reused whole, 0 to run" in again.stderr
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(folder / "out" / "points.parquet")), comparable(table))


def test_worker_processes_give_the_serial_table_and_compute_shared_steps_once(
        serial: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    _, table = serial
    config = write_config(tmp_path / "c.yml", tournament_sweep("filters", FILTERS_BY_STEPS))
    result = run_sweep(SweepOptions(config=config, out=tmp_path / "out", store=tmp_path / "store", jobs=2))
    pd.testing.assert_frame_equal(comparable(result.table), comparable(table))
    computed: dict[str, int] = {}
    for name in result.table["name"]:  # the two points of each filter share its model step
        for step in json.loads((tmp_path / "out" / name / "run.json").read_text())["steps"]:
            if step["id"] == "neuron":
                computed[step["fingerprint"]] = computed.get(step["fingerprint"], 0) + (step["status"] == "computed")
    assert list(computed.values()) == [1, 1]


def test_each_point_is_a_wandb_run_grouped_under_the_sweep_beside_a_summary_run(tmp_path: Path) -> None:
    text = tournament_sweep("tracked", "  grid:\n    query.steps: [30, 40]\n")
    config = write_config(tmp_path / "c.yml", text.replace("tracking: {backend: none}", "tracking: {backend: wandb}"))
    result = run_sweep(SweepOptions(config=config, out=tmp_path / "out", store=tmp_path / "store", offline=True))
    points = [read_run(path) for name in ("point-000", "point-001") for path in find_run_files(tmp_path / "out" / name)]
    assert [run.display_name for run in points] == ["tracked-sweep.point-000", "tracked-sweep.point-001"]
    assert {run.group for run in points} == {"tracked-sweep"}
    summary = read_run(find_run_files(tmp_path / "out")[0])  # the sweep folder's own run
    assert summary.display_name == "tracked-sweep.summary" and summary.group == "tracked-sweep"
    assert "points/_type" in summary.history_keys() and summary.exit_code == 0  # a W&B table
    assert any(name.startswith("media/table/points_") for name in summary.files)
    assert result.tracking is not None and Path(result.tracking) == summary.path.parent


def test_a_bad_value_in_a_late_point_fails_before_anything_runs(tmp_path: Path) -> None:
    sweep = "  grid:\n    query.steps: [30, 40, 0]\n"
    config = write_config(tmp_path / "c.yml", tournament_sweep("bad", sweep))
    result = run_cli("sweep", "--config", str(config), "--out", str(tmp_path / "out"),
                     "--store", str(tmp_path / "store"))
    assert result.returncode == 2
    assert result.stderr.startswith("mirror-neuron: error: sweep point 2 of 3 (steps=0): ")
    assert "query.steps (set by sweep query.steps=0): expected greater than 0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "store").exists()
    assert run_cli("validate", "--config", str(config)).stderr == result.stderr


def test_run_points_a_sweep_config_to_sweep_and_validate_checks_every_point(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", tournament_sweep("ok", FILTERS_BY_STEPS))
    refused = run_cli("run", "--config", str(config))
    assert refused.returncode == 2
    assert "the config has a sweep block: run it with `mirror-neuron sweep --config" in refused.stderr
    valid = run_cli("validate", "--config", str(config))
    assert valid.returncode == 0 and "valid (sweep 'ok-sweep': 4 point(s) of 2 step(s)" in valid.stdout


def test_a_killed_sweep_resumes_reusing_finished_points(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", slow_sweep("slow", delay_s=0.15))
    command = [sys.executable, "-m", "mirror_neuron", "sweep", "--config", str(config), "--out",
               str(tmp_path / "out"), "--store", str(tmp_path / "store")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((tmp_path / "out" / "points.parquet").exists()
                                               and any((tmp_path / "store").glob("*.partial/chunks/000001"))):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(pd.read_parquet(tmp_path / "out" / "points.parquet")) == 1, "killed after its first point"

    resumed = run_cli("sweep", "--config", str(config), "--out", str(tmp_path / "out"),
                      "--store", str(tmp_path / "store"))
    assert resumed.returncode == 0, resumed.stderr
    assert "3 point(s), 1 reused whole, 2 to run" in resumed.stderr
    assert "sweep point 0 of 3 (delay_s=0.15): reused whole" in resumed.stderr
    assert "query 'slow': resuming after" in resumed.stderr  # the interrupted point, from its chunks
    table = pd.read_parquet(tmp_path / "out" / "points.parquet")
    assert table["reused_whole"].tolist() == [True, False, False]
    assert table["slow/rows"].tolist() == [48.0, 48.0, 48.0]
