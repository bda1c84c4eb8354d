"""The content-addressed store: atomic chunks, resumable partial outputs, manifests."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import store as store_module
from mirror_neuron.store import PACKAGE_ROOT, Store, code_sha256, fingerprint, sha256_file, source_tree_sha256

FP = "ab" * 32


def test_fingerprint_depends_on_config_and_upstream_only() -> None:
    base = fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"})
    assert base == fingerprint("data", "Dataset", {"n": 1}, {"renamed": "f1"})
    assert base != fingerprint("data", "Dataset", {"n": 2}, {"x": "f1"})
    assert base != fingerprint("data", "Dataset", {"n": 1}, {"x": "f2"})


def copy_package(tmp_path: Path) -> Path:
    """A copy of the package's source files, without caches."""
    return Path(shutil.copytree(PACKAGE_ROOT, tmp_path / "mirror_neuron", ignore=shutil.ignore_patterns("__pycache__")))


def test_the_code_hash_covers_every_source_file_by_path_and_content(tmp_path: Path) -> None:
    copy = copy_package(tmp_path)
    assert source_tree_sha256(copy) == source_tree_sha256(PACKAGE_ROOT) == code_sha256()
    step = copy / "steps" / "base.py"
    original = step.read_text()
    step.write_text(original + "\n# a comment is a change too\n")
    changed = source_tree_sha256(copy)
    assert changed != code_sha256()
    step.write_text(original)
    assert source_tree_sha256(copy) == code_sha256()
    (copy / "steps" / "base.py").rename(copy / "steps" / "renamed.py")  # same content, another path
    assert source_tree_sha256(copy) not in (code_sha256(), changed)


def test_the_code_hash_ignores_caches_data_files_and_write_order(tmp_path: Path) -> None:
    files = {"a.py": "A = 1\n", "sub/b.py": "B = 2\n", "sub/__init__.py": ""}
    trees = []
    for name, order in (("one", sorted(files)), ("two", sorted(files, reverse=True))):
        for relative in order:
            path = tmp_path / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[relative])
            time.sleep(0.01)  # different mtimes as well
        trees.append(tmp_path / name)
    assert source_tree_sha256(trees[0]) == source_tree_sha256(trees[1])
    cache = trees[1] / "sub" / "__pycache__"
    cache.mkdir()
    (cache / "b.cpython-311.pyc").write_bytes(b"compiled")
    (cache / "stale.py").write_text("X = 1\n")
    (trees[1] / "notes.txt").write_text("not source")
    assert source_tree_sha256(trees[0]) == source_tree_sha256(trees[1])
    (trees[1] / "sub" / "b.py").write_text("B = 3\n")
    assert source_tree_sha256(trees[0]) != source_tree_sha256(trees[1])


def test_a_change_to_the_code_changes_every_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = fingerprint("data", "Dataset", {"n": 1}, {"x": "f1"})
    copy = copy_package(tmp_path)
    monkeypatch.setattr(store_module, "PACKAGE_ROOT", copy)
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


def test_the_code_hash_is_cheap_and_computed_once() -> None:
    code_sha256.cache_clear()
    started = time.perf_counter()
    first = code_sha256()
    assert time.perf_counter() - started < 1.0
    assert code_sha256() is first and code_sha256.cache_info().misses == 1


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
