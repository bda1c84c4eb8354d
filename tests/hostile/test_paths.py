"""Where a run may write: --out and --store, step ids and experiment names, refused before anything is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.hostile.helpers import DATA, cli, config, refused, tree


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def stored(here: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store holding one finished output (the data step's), from a real run; returns that output."""
    code, stderr = cli(capsys, "run", "--config", str(config(here)), "--store", "store", "--out", "first")
    assert code == 0, stderr
    return (here / "first" / "prompts").resolve()


def test_out_inside_the_store_or_a_stored_output_is_refused(here: Path, stored: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    before = tree(here)
    for out, problem in (("store", "inside the store"), ("store/new", "inside the store"),
                         (str(stored / "sub"), "inside the stored output"), ("first/prompts", "inside the stored output")):
        code, stderr = cli(capsys, "run", "--config", "c.yml", "--store", "store", "--out", out)
        refused(code, stderr, f"--out {out}: {problem}")
    assert tree(here) == before  # nothing written, not even a lock file


def test_out_at_the_root_a_file_or_a_folder_of_other_files_is_refused(here: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config(here)
    (here / "notes").mkdir()
    (here / "notes" / "todo.txt").write_text("mine")
    before = tree(here)
    for out, problem in (("/", "the root of the file system"), ("c.yml", "exists and is not a folder"),
                         ("notes", "holds 'todo.txt', which is not part of a run")):
        refused(*cli(capsys, "run", "--config", "c.yml", "--out", out), f"--out {out}: {problem}")
    refused(*cli(capsys, "run", "--config", "c.yml", "--store", "c.yml"), "--store c.yml: exists and is not a folder")
    refused(*cli(capsys, "run", "--config", "c.yml", "--store", "/"), "--store /: the root of the file system")
    refused(*cli(capsys, "run", "--config", "c.yml", "--out", "out", "--store", "out/store"),
            "--store out/store: inside the run folder")
    assert tree(here) == before


def test_an_unwritable_out_or_store_is_refused(here: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    config(here)
    (here / "locked").mkdir()
    real_access = os.access
    # fault injection: tests run as root, for whom every folder is writable
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path).name != "locked" and real_access(path, mode))
    refused(*cli(capsys, "run", "--config", "c.yml", "--out", "locked/run"), "--out locked/run:", "locked is not writable")
    refused(*cli(capsys, "run", "--config", "c.yml", "--store", "locked"), "--store locked:", "is not writable")
    assert tree(here) == ["c.yml", "locked"]


def test_a_run_folder_is_reused_by_its_own_experiment_only(here: Path, stored: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    again = cli(capsys, "run", "--config", "c.yml", "--store", "store", "--out", "first")
    assert again[0] == 0, again[1]
    before = tree(here)
    code, stderr = cli(capsys, "run", "--config", "c.yml", "--store", "store", "--out", "first",
                       "--set", "experiment.name=other")
    refused(code, stderr, "--out first: holds the run of experiment 'hostile', not 'other'")
    assert tree(here) == before


def test_names_that_read_alike_once_made_safe_keep_their_own_folders(here: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config(here)
    for name in ("a/b", "a b", "a/b"):
        code, stderr = cli(capsys, "run", "--config", "c.yml", "--set", f"experiment.name={name}")
        assert code == 0, stderr
    folders = sorted((here / "runs").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("a-b-") for f in folders)
    names = {json.loads((f / "run.json").read_text())["experiment"]["name"] for f in folders}
    assert names == {"a/b", "a b"}
    assert cli(capsys, "run", "--config", "c.yml", "--set", "experiment.name=plain")[0] == 0
    assert (here / "runs" / "plain" / "run.json").is_file()  # a safe name is its own folder name


def test_a_300_character_name_is_refused_at_validation(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config(here, DATA.replace("{name: hostile}", "{name: " + "x" * 300 + "}"))
    for command in ("validate", "run"):
        refused(*cli(capsys, command, "--config", "c.yml"), "c.yml: experiment.name (line 1):", "at most 128 characters")
    assert tree(here) == ["c.yml"]


@pytest.mark.parametrize("step_id", ["report.html", "run.json", "report.md", "wandb", "Run.JSON"])
def test_step_ids_may_not_be_the_run_folders_own_files(here: Path, capsys: pytest.CaptureFixture[str],
                                                       step_id: str) -> None:
    config(here, DATA.replace("id: prompts", f"id: {step_id}"))
    for command in ("validate", "run"):
        refused(*cli(capsys, command, "--config", "c.yml"), "c.yml: data.id (line 4):",
                f"id '{step_id}' is the name of a file of the run folder")
    assert tree(here) == ["c.yml"]
