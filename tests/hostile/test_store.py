"""A store that verifies what it reuses: damaged outputs and partial outputs are set aside (never deleted)
and computed again, `report` and `verify` name them on one line, and a kill -9 at each commit point or a
full disk leaves a store that the next run resumes from."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import cli, verify
from mirror_neuron import store as store_module
from mirror_neuron.errors import DiskFull, disk_full_is_user_error
from mirror_neuron.store import CHUNKS, MANIFEST, Store, check_output
from tests.conftest import REPO
from tests.fixtures.interrupt import stopped_after
from tests.fixtures.runs import Run, run_config
from tests.fixtures.slow_step import slow_echo_config
from tests.fixtures.store_faults import KILL_POINTS
from tests.steps.query.test_neuron import CONFIG as NEURON_CONFIG

SLOW = slow_echo_config("store", rows_per_chunk=4, delay_s=0)  # 48 prompts: 12 chunks


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The slow step's table from an uninterrupted run into a store of its own."""
    return run_config(tmp_path_factory.mktemp("reference"), SLOW).output.table()


def damage(output: Path, case: str) -> str:
    """Damage the finished output folder ``output`` as ``case`` says; return what its check must name."""
    table, manifest = output / "data.parquet", output / MANIFEST
    if case == "edited table":  # as by hand: row 0 changed, the file written again
        frame = pd.read_parquet(table)
        frame.loc[0, "length"] += 1
        frame.to_parquet(table, index=False)
    elif case == "edited in place, size and mtime kept":
        before = table.stat()
        data = bytearray(table.read_bytes())
        data[len(data) // 2] ^= 0xFF
        table.write_bytes(bytes(data))
        os.utime(table, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert table.stat().st_size == before.st_size and table.stat().st_mtime_ns == before.st_mtime_ns
        return "data.parquet was changed"
    elif case == "truncated table":
        table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])
        return "data.parquet has"
    elif case == "missing table":
        table.unlink()
        return "data.parquet is missing"
    elif case == "truncated manifest":
        manifest.write_text(manifest.read_text()[:40])
        return "manifest.json is unreadable"
    elif case == "missing manifest":
        manifest.unlink()
        return "manifest.json is missing"
    elif case == "stray tensor shard":  # read back by StepOutput.tensor() with the output's own shards
        (output / CHUNKS / "000000").mkdir(parents=True)
        (output / CHUNKS / "000000" / "tensors.safetensors").write_bytes(b"{}")
        return "chunks/000000/tensors.safetensors is not among the stored files"
    return "data.parquet"


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def statuses(run: Run) -> list[str]:
    return [record.status for record in run.result.records]


def damage_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if "is damaged" in line]


@pytest.mark.parametrize("case", ["edited table", "edited in place, size and mtime kept", "truncated table",
                                  "missing table", "truncated manifest", "missing manifest", "stray tensor shard"])
def test_a_damaged_output_is_set_aside_and_computed_again(case: str, tmp_path: Path, reference: pd.DataFrame) -> None:
    output = run_config(tmp_path, SLOW).output.path
    problem = damage(output, case)
    damaged = files_under(output)

    again = run_config(tmp_path, SLOW)
    assert statuses(again) == ["reused", "computed"]
    [line] = damage_lines(again)
    [aside] = (tmp_path / "store").glob(f"{output.name}.damaged-*")
    assert line.startswith("[2/2] query 'slow': stored output") and problem in line and str(aside) in line
    assert files_under(aside) == damaged  # set aside as it was, not deleted
    pd.testing.assert_frame_equal(again.output.table(), reference)
    assert check_output(again.output.path) == []
    assert statuses(run_config(tmp_path, SLOW)) == ["reused", "reused"]


@pytest.mark.parametrize("case, whole", [("truncated chunk", 3), ("edited chunk", 4), ("missing middle chunk", 2),
                                         ("missing chunk list", 1)])
def test_a_damaged_partial_output_resumes_from_its_last_whole_chunk(case: str, whole: int, tmp_path: Path,
                                                                    reference: pd.DataFrame) -> None:
    with stopped_after(6, "slow"):
        run_config(tmp_path, SLOW)
    [partial] = (tmp_path / "store").glob("*.partial")
    chunk = partial / CHUNKS / f"{whole:06d}"
    if case == "truncated chunk":
        (chunk / "data.parquet").write_bytes((chunk / "data.parquet").read_bytes()[:100])
    elif case == "edited chunk":
        frame = pd.read_parquet(chunk / "data.parquet")
        frame.loc[0, "length"] = -1
        frame.to_parquet(chunk / "data.parquet", index=False)
    elif case == "missing middle chunk":
        shutil.rmtree(chunk)
    else:
        (chunk / "chunk-files.json").unlink()

    resumed = run_config(tmp_path, SLOW)
    assert statuses(resumed) == ["reused", "resumed"]
    assert f"resuming after {whole} completed chunk(s)" in resumed.stderr
    [line] = damage_lines(resumed)
    assert "query 'slow': stored partial output" in line and f"chunk {whole:06d}" in line
    [aside] = (tmp_path / "store").glob(f"{partial.name}.damaged-*")
    moved = sorted(p.name for p in (aside / CHUNKS).iterdir())
    assert moved == [f"{i:06d}" for i in range(whole + (case == "missing middle chunk"), 6)]
    pd.testing.assert_frame_equal(resumed.output.table(), reference)


def test_a_partial_neuron_query_without_its_saved_state_resumes_before_that_chunk(tmp_path: Path) -> None:
    text = NEURON_CONFIG.format(query="  method: forward\n  topk: 8\n  chunk_size: 10\n  weights_every: 7\n")
    whole = run_config(tmp_path / "whole", text).output
    with stopped_after(3, "query"):
        run_config(tmp_path / "split", text)
    [partial] = (tmp_path / "split" / "store").glob("*.partial")
    (partial / CHUNKS / "000002" / "neuron_state.npz").unlink()  # the state a resume starts from

    resumed = run_config(tmp_path / "split", text)
    assert "neuron_state.npz is missing" in damage_lines(resumed)[0]
    assert "resuming after 2 completed chunk(s)" in resumed.stderr
    for name in ("data", "weights"):
        pd.testing.assert_frame_equal(resumed.output.table(name), whole.table(name))


@pytest.mark.parametrize("case", ["truncated table", "truncated manifest", "edited table", "missing table"])
def test_report_on_a_damaged_output_says_so_on_one_line(case: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    problem = damage(run_config(tmp_path, SLOW).output.path, case)
    code = cli.main(["report", "--run", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith(f"mirror-neuron: error: {tmp_path / 'out' / 'slow'}: ")
    assert problem in lines[0] and "step 'slow' is damaged" in lines[0]


def test_verify_names_each_damaged_output_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    finished = run_config(tmp_path, SLOW).output.path
    with stopped_after(4, "slow"):
        run_config(tmp_path, slow_echo_config("store", rows_per_chunk=3, delay_s=0))
    [partial] = store.glob("*.partial")
    assert cli.main(["verify", "--store", str(store)]) == 0
    assert capsys.readouterr().out == f"{store}: 3 outputs verified (1 partial)\n"

    damage(finished, "truncated table")
    shutil.rmtree(partial / CHUNKS / "000001")
    assert cli.main(["verify", "--store", str(store)]) == 1
    *damaged, summary = capsys.readouterr().out.splitlines()
    assert sorted(damaged) == sorted([
        f"damaged  {finished}: data.parquet has {(finished / 'data.parquet').stat().st_size} bytes, "
        f"{_stored_bytes(finished)} were stored",
        f"damaged  {partial}: chunk 000001 is missing, and 2 later chunk(s) are stored"])
    assert summary == (f"{store}: 1 outputs verified (0 partial), "
                       "2 damaged (a run sets each aside and computes it again)")

    run_config(tmp_path, SLOW)
    run_config(tmp_path, slow_echo_config("store", rows_per_chunk=3, delay_s=0))
    assert cli.main(["verify", "--store", str(store)]) == 0
    set_aside = "2 folder(s) set aside earlier (*.damaged-*)"
    assert capsys.readouterr().out == f"{store}: 3 outputs verified (0 partial); {set_aside}\n"


def test_verify_refuses_a_missing_store_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", "--store", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"mirror-neuron: error: {tmp_path / 'nowhere'}: no such store folder " \
                                      "(the --store of `mirror-neuron run`, by default runs/.store)\n"


def _stored_bytes(output: Path) -> int:
    return next(f["bytes"] for f in json.loads((output / MANIFEST).read_text())["files"] if f["path"] == "data.parquet")


def test_a_rerun_of_a_verified_store_reads_no_file_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_config(tmp_path, SLOW)
    hashed: list[Path] = []
    sha256_file = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda path: hashed.append(path) or sha256_file(path))
    assert statuses(run_config(tmp_path, SLOW)) == ["reused", "reused"]
    assert hashed == []  # every file was hashed when it was written, and is unchanged since
    copy = Path(shutil.copytree(tmp_path / "store", tmp_path / "copy"))
    assert check_output(copy / first.output.path.name) == []
    assert hashed == [copy / first.output.path.name / "data.parquet"]  # a copy is another file: read again


def run_with_fault(*fault: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``mirror-neuron run`` of ``folder/c.yml`` (written by :func:`run_config`'s layout) under a fault of
    :mod:`tests.fixtures.store_faults`."""
    (folder / "c.yml").write_text(SLOW)
    command = [sys.executable, "-m", "tests.fixtures.store_faults", *fault, "--", "run", "--config",
               str(folder / "c.yml"), "--out", str(folder / "out"), "--store", str(folder / "store")]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_at_a_commit_point_leaves_no_stray_files(point: str, tmp_path: Path, reference: pd.DataFrame,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    killed = run_with_fault("kill", point, "slow", folder=tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = Store(tmp_path / "store")
    assert all(check_output(path) == [] for path in store.root.glob("?" * 20))  # published: exactly its files
    assert cli.main(["verify", "--store", str(store.root)]) == 0  # a commit killed midway is no damage
    partial = "0 partial" if point == "published" else "1 partial"
    assert capsys.readouterr().out == f"{store.root}: 2 outputs verified ({partial})\n"

    rerun = run_config(tmp_path, SLOW)
    assert statuses(rerun) == ["reused", "resumed" if point == "merged" else "reused"]
    output = rerun.output.path
    assert check_output(output) == [] and not (output / CHUNKS).exists()
    assert not list(store.root.glob("*.partial")) and not store.set_aside_folders()
    pd.testing.assert_frame_equal(rerun.output.table(), reference)


@pytest.mark.parametrize("chunks", [2, 12])  # in the middle of the step; at its commit, merging the tables
def test_a_full_disk_stops_on_one_line_and_the_rerun_resumes(chunks: int, tmp_path: Path,
                                                             reference: pd.DataFrame) -> None:
    full = run_with_fault("disk-full", str(chunks), "slow", folder=tmp_path)
    assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr
    last = full.stderr.strip().splitlines()[-1]
    [partial] = (tmp_path / "store").glob("*.partial")
    assert last == (f"mirror-neuron: error: {partial}: the disk is full (no space left on device); "
                    "free some space and rerun the same command to resume")
    assert Store(tmp_path / "store").partial_chunks(partial.name) == chunks
    assert not list(partial.glob(f"{CHUNKS}/.tmp-*"))

    resumed = run_config(tmp_path, SLOW)
    assert statuses(resumed) == ["reused", "resumed"]
    assert f"resuming after {chunks} completed chunk(s)" in resumed.stderr and not damage_lines(resumed)
    pd.testing.assert_frame_equal(resumed.output.table(), reference)


@pytest.mark.parametrize("failed, named", [("out/.run.json.tmp-1", "out"), (None, "out"),
                                           ("cache/x.sqlite", "cache/x.sqlite")])
def test_a_full_disk_names_the_folder_being_written_or_the_file_elsewhere(failed: str | None, named: str,
                                                                          tmp_path: Path) -> None:
    with pytest.raises(DiskFull) as raised, disk_full_is_user_error(tmp_path / "out"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / failed) if failed else None)
    assert str(raised.value).startswith(f"{tmp_path / named}: the disk is full (no space left on device)")


def test_a_full_sqlite_cache_is_a_full_disk_too(tmp_path: Path) -> None:
    import sqlite3

    database = sqlite3.connect(tmp_path / "cache.sqlite")
    database.execute("PRAGMA max_page_count = 2")  # SQLite's own "database or disk is full" once it is spent
    with pytest.raises(DiskFull) as raised, disk_full_is_user_error(tmp_path):
        database.execute("CREATE TABLE scores (key TEXT, value BLOB)")
        for index in range(100):
            database.execute("INSERT INTO scores VALUES (?, ?)", (str(index), b"x" * 4096))
    database.close()
    assert str(raised.value) == f"{tmp_path}: the disk is full (no space left on device); free some space and " \
                                "rerun the same command to resume"


def test_verify_checks_a_store_it_may_only_read(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    finished = run_config(tmp_path, SLOW).output.path
    for lock in store.glob("*.lock"):
        lock.unlink()  # a copy of a store without its lock files
    damage(finished, "truncated table")
    import builtins

    def read_only(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if set(mode) & set("wax+"):  # the tests run as root, which permissions do not stop: the fault, injected
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return builtins.open(file, mode, *args, **kwargs)

    monkeypatch.setattr(store_module, "open", read_only, raising=False)
    assert cli.main(["verify", "--store", str(store)]) == 1
    *damaged, summary = capsys.readouterr().out.splitlines()
    assert damaged == [f"damaged  {finished}: data.parquet has {(finished / 'data.parquet').stat().st_size} bytes, "
                       f"{_stored_bytes(finished)} were stored"]
    assert not list(store.glob("*.lock"))
