"""The content-addressed store: atomic chunks, resumable partial outputs, manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import hashing
from mirror_neuron.hashing import PACKAGE_ROOT, code_sha256, sha256_file
from mirror_neuron.store import Store, fingerprint

FP = "ab" * 32


def test_fingerprint_depends_on_config_and_upstream_only() -> None:
    base = fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"})
    assert base == fingerprint("data", "Dataset", {"n": 1}, {"renamed": "f1"})
    assert base != fingerprint("data", "Dataset", {"n": 2}, {"x": "f1"})
    assert base != fingerprint("data", "Dataset", {"n": 1}, {"x": "f2"})


def copy_package(tmp_path: Path) -> Path:
    """A copy of the package's source files, without caches."""
    return Path(shutil.copytree(PACKAGE_ROOT, tmp_path / "mirror_neuron", ignore=shutil.ignore_patterns("__pycache__")))


def test_a_change_to_the_code_changes_every_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"})
    copy = copy_package(tmp_path)
    monkeypatch.setattr(hashing, "PACKAGE_ROOT", copy)
    code_sha256.cache_clear()
    try:
        assert fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"}) == before  # the same tree
        (copy / "runner.py").write_text((copy / "runner.py").read_text() + "\n")
        code_sha256.cache_clear()
        assert fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"}) != before
    finally:
        monkeypatch.undo()
        code_sha256.cache_clear()
    assert fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"}) == before


def test_a_failed_chunk_leaves_nothing_and_a_partial_output_is_not_finished(tmp_path: Path) -> None:
    store = Store(tmp_path)
    writer = store.writer(FP)
    writer.write(data=pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(RuntimeError), writer.chunk() as chunk:
        chunk.table("data", pd.DataFrame({"a": [3]}))
        raise RuntimeError("killed while writing")
    assert writer.completed == 1
    assert store.finished(FP) is None
    assert store.partial_chunks(FP) == 1
    assert store.writer(FP).completed == 1  # a new writer resumes after the completed chunk


def test_commit_merges_chunks_in_order_and_lists_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    writer = store.writer(FP)
    writer.write(data=pd.DataFrame({"a": [1, 2], "b": [None, None]}))
    writer.write(data=pd.DataFrame({"a": [3], "b": ["x"]}))  # b's type is known only now
    with writer.chunk() as chunk:
        chunk.file("tensors/part.npy").write_bytes(b"123")
    output = store.commit(FP, writer, {"fingerprint": FP})
    assert output.rows == {"data": 3}
    table = output.table()
    assert table["a"].tolist() == [1, 2, 3]
    assert table["b"].isna().tolist() == [True, True, False] and table["b"].iloc[2] == "x"
    manifest = json.loads((output.path / "manifest.json").read_text())
    files = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(files) == {"data.parquet", "chunks/000002/tensors/part.npy"}
    assert files["data.parquet"] == sha256_file(output.path / "data.parquet")
    assert not list(output.path.glob("chunks/000000*"))  # merged parts are gone
    assert store.finished(FP) is not None and store.partial_chunks(FP) == 0


def test_fresh_writer_discards_an_interrupted_output(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.writer(FP).write(data=pd.DataFrame({"a": [1]}))
    assert store.writer(FP, fresh=True).completed == 0


def test_plots_are_the_pngs_under_chunk_plot_folders_in_chunk_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    writer = store.writer(FP)
    for names in (["b", "a"], ["c"]):
        with writer.chunk() as chunk:
            chunk.table("data", pd.DataFrame({"a": [1]}))
            for name in names:
                chunk.file(f"plots/{name}.png").write_bytes(b"\x89PNG")
            chunk.file("other/x.png").write_bytes(b"\x89PNG")
    output = store.commit(FP, writer, {"fingerprint": FP})
    assert [p.relative_to(output.path).as_posix() for p in output.plots()] == [
        "chunks/000000/plots/a.png", "chunks/000000/plots/b.png", "chunks/000001/plots/c.png"]


def test_a_writer_reads_back_the_tables_of_its_completed_chunks(tmp_path: Path) -> None:
    writer = Store(tmp_path).writer(FP)
    writer.write(data=pd.DataFrame({"a": [1, 2]}))
    with writer.chunk() as chunk:
        chunk.file("state.npz").write_bytes(b"state")
    writer.write(data=pd.DataFrame({"a": [3]}))
    assert writer.read_table(0, "data")["a"].tolist() == [1, 2]
    assert writer.read_table(1, "data") is None
    assert writer.chunk_file(1, "state.npz").read_bytes() == b"state"
    assert writer.read_tables("data")["a"].tolist() == [1, 2, 3]
    assert writer.read_tables("data", chunks=range(2, 3))["a"].tolist() == [3]
    assert writer.read_tables("missing", columns=["a"]).empty
    with pytest.raises(FileNotFoundError, match="chunk 1 .* no table 'data'"):
        writer.read_tables("data", chunks=range(3))
