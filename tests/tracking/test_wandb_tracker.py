"""W&B tracking, checked from what an offline run leaves on disk (no account, no network).

The expensive part, two real CLI runs of a small data step, happens once per module; the tests then read
the offline run files with :mod:`tests.tracking.wandb_records`.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.runner import RunOptions, run_experiment
from mirror_neuron.tracking import NullTracker, make_tracker
from mirror_neuron.tracking.wandb_tracker import logged_in
from tests.conftest import run_cli, write_config
from tests.tracking.wandb_records import OfflineRun, find_run_files, read_run

EXPERIMENT = "wandb offline check"
TAGS = ["offline", "tracking-test"]
SAMPLE_N = 5
SECRET = "mn-test-secret-4f1c9e2a7b3d8e6f0a5c1b9d2e7f3a8c6b0d4e1f"
# Everything that could tell W&B who we are or where its files go; tests set what they need.
WANDB_ENV = ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_BASE_URL", "WANDB_CONFIG_DIR",
             "WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR", "NETRC")


def data_config(name: str = EXPERIMENT, tags: list[str] = TAGS, step_id: str = "prompts",
                tracking: str = "backend: wandb\n  project: mirror-neuron-tests") -> str:
    """A one-step experiment: a small random sample of the built-in prompts."""
    return f"""\
experiment:
  name: {json.dumps(name)}
  tags: {json.dumps(tags)}
tracking:
  {tracking}
data:
  id: {step_id}
  path: builtin:prompts
  schema:
    all:
      question: question
      answer: answer
      context: context
  sample:
    method: random
    n: {SAMPLE_N}
"""


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for the CLI whose W&B state (home, config, cache, data) all lives under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in WANDB_ENV}
    env.update(HOME=str(home), WANDB_CONFIG_DIR=str(home / "wandb-config"), WANDB_CACHE_DIR=str(home / "wandb-cache"),
               WANDB_DATA_DIR=str(home / "wandb-data"), WANDB_ARTIFACT_DIR=str(home / "wandb-artifacts"), **extra)
    return env


def run_isolated(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``run_cli`` with exactly ``env`` (``run_cli`` layers its env over ``os.environ``)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return run_cli(*args, timeout=120)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Tracked:
    """Two offline CLI runs of the same experiment into the same out dir: computed, then reused."""

    root: Path
    out: Path
    store: Path
    home: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    runs: list[OfflineRun]

    @property
    def fingerprint(self) -> str:
        return json.loads((self.out / "run.json").read_text())["steps"][0]["fingerprint"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    root = tmp_path_factory.mktemp("tracked")
    config = write_config(root / "experiment.yml", data_config())
    out, store, home = root / "out", root / "store", root / "home"
    home.mkdir()
    env = isolated_env(home, WANDB_API_KEY=SECRET, WANDB_MODE="offline")
    args = ("run", "--config", str(config), "--out", str(out), "--store", str(store), "--offline")
    first = run_isolated(env, *args)
    assert first.returncode == 0, first.stderr
    second = run_isolated(env, *args)
    assert second.returncode == 0, second.stderr
    files = find_run_files(out)
    assert len(files) == 2, f"expected one offline run per CLI run, found {files}"
    runs = [read_run(next(f for f in files if f"tracking: {f.parent}" in result.stdout)) for result in (first, second)]
    return Tracked(root, out, store, home, first, second, runs)


def test_each_cli_run_is_one_offline_run(tracked: Tracked) -> None:
    """Both runs finished cleanly offline, the second reusing the stored output, in separate W&B runs."""
    assert "prompts  computed" in tracked.first.stdout
    assert "prompts  reused" in tracked.second.stdout
    first, second = tracked.runs
    assert first.run_id != second.run_id
    assert first.exit_code == 0 and second.exit_code == 0
    assert first.kinds[0] == "header" and "run" in first.kinds and first.kinds[-1] == "exit"
    location = json.loads((tracked.out / "run.json").read_text())["tracking"]
    assert Path(location) == second.path.parent
    assert f"tracking: {location}" in tracked.second.stdout


def test_wandb_prints_nothing_yet_writes_its_run_files(tracked: Tracked) -> None:
    """No W&B banner, sync hint or run summary on the console: the terminal is the run's own."""
    for result, run in zip((tracked.first, tracked.second), tracked.runs):
        printed = (result.stdout + result.stderr).splitlines()
        assert not [line for line in printed if line.startswith("wandb:")], printed
        assert run.path.is_file() and run.history and run.summary  # the offline run file holds it all


def test_run_name_and_tags_come_from_the_experiment(tracked: Tracked) -> None:
    for run in tracked.runs:
        assert run.display_name == EXPERIMENT
        assert run.tags == TAGS
        assert run.project == "mirror-neuron-tests"


def test_resolved_config_is_logged(tracked: Tracked) -> None:
    """The config holds the experiment, each step's fingerprint and the data step's resolved config."""
    config = tracked.runs[0].config
    assert config["experiment"]["name"] == EXPERIMENT
    assert config["experiment"]["tags"] == TAGS
    step = config["steps"]["prompts"]
    assert step["section"] == "data"
    assert step["fingerprint"] == tracked.fingerprint
    manifest = json.loads((tracked.store / tracked.fingerprint[:20] / "manifest.json").read_text())
    assert step["config"] == manifest["config"]
    assert step["config"]["path"] == "builtin:prompts"
    assert step["config"]["sample"]["n"] == SAMPLE_N
    assert step["config"]["sample"]["seed"] == 0  # resolved: filled from the experiment seed
    assert step["config"]["source_files"]["all"][0]["sha256"]  # resolved: the source file is pinned
    assert tracked.runs[1].config["steps"] == config["steps"]


def test_step_summary_figures_are_logged(tracked: Tracked) -> None:
    """``<step id>/<figure>`` in history and summary: the step's own summary, rows per table and seconds."""
    manifest = json.loads((tracked.store / tracked.fingerprint[:20] / "manifest.json").read_text())
    for run in tracked.runs:
        assert len(run.history) == 1
        row = run.history[0]
        for key, value in manifest["summary"].items():
            assert row[f"prompts/{key}"] == value
            assert run.summary[f"prompts/{key}"] == value
        assert row["prompts/rows"] == SAMPLE_N
        assert row["prompts/rows/data"] == SAMPLE_N
        assert run.summary["prompts/rows_available"] > SAMPLE_N
        assert isinstance(row["prompts/seconds"], float) and row["prompts/seconds"] >= 0


def test_sample_table_is_logged(tracked: Tracked) -> None:
    """The step's sample is a W&B table whose file holds the first rows of the stored output."""
    stored = pd.read_parquet(tracked.store / tracked.fingerprint[:20] / "data.parquet")
    for run in tracked.runs:
        row = run.history[0]
        assert row["prompts/sample/_type"] == "table-file"
        assert row["prompts/sample/nrows"] == SAMPLE_N
        table_file = run.path.parent / "files" / row["prompts/sample/path"]
        assert table_file.is_file() and table_file.parent.parent.name == "table"
        assert row["prompts/sample/path"] in run.files
        table = json.loads(table_file.read_text())
        assert {"question", "answer", "context"} <= set(table["columns"])
        questions = [r[table["columns"].index("question")] for r in table["data"]]
        assert questions == stored["question"].head(SAMPLE_N).tolist()


def test_each_step_output_is_an_artifact(tracked: Tracked) -> None:
    """One artifact per step named after the fingerprint, holding the stored files, also when reused."""
    fingerprint = tracked.fingerprint
    stored_files = sorted(p.name for p in (tracked.store / fingerprint[:20]).iterdir() if p.is_file())
    digests = []
    for run in tracked.runs:
        outputs = [a for a in run.artifacts if a.type == "data"]
        assert [a.name for a in outputs] == [f"prompts-{fingerprint[:12]}"]
        artifact = outputs[0]
        assert fingerprint[:12] in artifact.name
        assert artifact.metadata["fingerprint"] == fingerprint
        assert artifact.metadata["rows"] == {"data": SAMPLE_N}
        assert sorted(artifact.paths) == stored_files
        assert "data.parquet" in artifact.paths and "manifest.json" in artifact.paths
        digests.append(artifact.digest)
    assert digests[0] == digests[1]  # the reused output is the same content


def test_api_key_is_never_written(tracked: Tracked) -> None:
    """The W&B key was set for both runs, yet no file nor console output holds it."""
    secret = SECRET.encode()
    scanned = 0
    for folder in (tracked.out, tracked.store, tracked.home):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                scanned += 1
                assert secret not in path.read_bytes(), f"the W&B key was written to {path}"
    assert scanned > 10
    assert any(p.suffix == ".wandb" for p in tracked.out.rglob("*.wandb"))
    for result in (tracked.first, tracked.second):
        assert SECRET not in result.stdout and SECRET not in result.stderr


def test_not_logged_in_fails_before_writing(tmp_path: Path) -> None:
    """Without --offline and without credentials: exit 2, one line naming `wandb login`, nothing written."""
    home = tmp_path / "home"
    home.mkdir()
    config = write_config(tmp_path / "experiment.yml", data_config())
    out, store = tmp_path / "out", tmp_path / "store"
    env = isolated_env(home)
    assert "WANDB_MODE" not in env and "WANDB_API_KEY" not in env
    result = run_isolated(env, "run", "--config", str(config), "--out", str(out), "--store", str(store))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mirror-neuron: error:")
    assert "`wandb login`" in lines[0] and "--offline" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not out.exists() and not store.exists()
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("mode", ["", "online", "run", "shared"])
def test_online_modes_need_a_login(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every WANDB_MODE that talks to a server is refused up front when there are no credentials."""
    for name in WANDB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_MODE", mode)
    assert not logged_in()
    with pytest.raises(UserError, match="wandb login"):
        make_tracker("wandb", "p", None, tmp_path / "out", offline=False)
    assert make_tracker("wandb", "p", None, tmp_path / "out", offline=True).mode == "offline"
    assert not (tmp_path / "out").exists()


def test_unknown_wandb_mode_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WANDB_MODE", "ofline")
    with pytest.raises(UserError, match="WANDB_MODE='ofline' is not a W&B mode"):
        make_tracker("wandb", "p", None, tmp_path / "out", offline=False)


def test_logged_in_finds_credentials_where_wandb_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Key, identity token, settings file, and netrc entries (``$NETRC``, host with port) all count."""
    for name in WANDB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    assert not logged_in()

    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert logged_in()
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("WANDB_IDENTITY_TOKEN_FILE", str(tmp_path / "token"))
    assert logged_in()
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE")

    netrc_file = tmp_path / "elsewhere.netrc"
    netrc_file.write_text("machine localhost:8080\n  login user\n  password " + "k" * 40 + "\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    assert not logged_in()  # the entry is for a local server, not api.wandb.ai
    monkeypatch.setenv("WANDB_BASE_URL", "http://localhost:8080")
    assert logged_in()
    monkeypatch.delenv("WANDB_BASE_URL")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings").write_text("[default]\nbase_url = http://localhost:8080\n")
    assert logged_in()  # `wandb login --host` records the server in the settings file
    monkeypatch.delenv("NETRC")
    assert not logged_in()

    home_netrc = tmp_path / ".netrc"
    home_netrc.write_text("machine localhost:8080 login user password " + "k" * 40 + "\n")
    home_netrc.chmod(0o600)
    assert logged_in()


def test_backend_none_needs_no_login_and_writes_no_wandb_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WANDB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert isinstance(make_tracker("none", "p", None, tmp_path / "unused", offline=False), NullTracker)
    config = write_config(tmp_path / "experiment.yml", data_config(tracking="backend: none"))
    result = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))
    assert [r.status for r in result.records] == ["computed"]
    assert result.tracking is None
    assert (result.out / "run.json").is_file()
    assert json.loads((result.out / "run.json").read_text())["tracking"] is None
    assert not list(tmp_path.rglob("wandb")) and not list(tmp_path.rglob("*.wandb"))


def test_names_wandb_would_reject_are_handled(tmp_path: Path) -> None:
    """A 128-character step id still tracks (names shortened to W&B's limit); a 65-character tag is a user error."""
    home = tmp_path / "home"
    home.mkdir()
    env = isolated_env(home, WANDB_MODE="offline")
    long_id = "p" * 128
    config = write_config(tmp_path / "long-id.yml", data_config(step_id=long_id))
    result = run_isolated(env, "run", "--config", str(config), "--out", str(tmp_path / "out"),
                          "--store", str(tmp_path / "store"), "--offline")
    assert result.returncode == 0, result.stderr
    [run] = [read_run(f) for f in find_run_files(tmp_path / "out")]
    fingerprint = json.loads((tmp_path / "out" / "run.json").read_text())["steps"][0]["fingerprint"]
    [output] = [a for a in run.artifacts if a.type == "data"]
    assert len(output.name) <= 128 and output.name.endswith(f"-{fingerprint[:12]}")
    assert any(a.type == "run_table" for a in run.artifacts)
    assert run.summary[f"{long_id}/rows"] == SAMPLE_N
    assert run.exit_code == 0

    config = write_config(tmp_path / "long-tag.yml", data_config(tags=["t" * 65]))
    result = run_isolated(env, "run", "--config", str(config), "--out", str(tmp_path / "out2"),
                          "--store", str(tmp_path / "store"), "--offline")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("mirror-neuron: error: experiment.tags:")
    assert not (tmp_path / "out2" / "wandb").exists()


def test_project_wandb_would_reject_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="tracking.project"):
        make_tracker("wandb", "team/project", None, tmp_path / "out", offline=True)


def test_disabled_mode_reports_no_tracking_location(tmp_path: Path) -> None:
    """WANDB_MODE=disabled runs without a login and claims no W&B run directory that does not exist."""
    home = tmp_path / "home"
    home.mkdir()
    config = write_config(tmp_path / "experiment.yml", data_config())
    result = run_isolated(isolated_env(home, WANDB_MODE="disabled"), "run", "--config", str(config),
                          "--out", str(tmp_path / "out"), "--store", str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "run.json").read_text())["tracking"] is None
    assert "tracking:" not in result.stdout
    assert not (tmp_path / "out" / "wandb").exists()
