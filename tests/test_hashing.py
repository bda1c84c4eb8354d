"""Digests of files and of the package's code, as fingerprints use them."""

from __future__ import annotations

import time
from pathlib import Path

from mirror_neuron.hashing import PACKAGE_ROOT, code_sha256, source_tree_sha256
from tests.test_store import copy_package


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


def test_the_code_hash_is_cheap_and_computed_once() -> None:
    code_sha256.cache_clear()
    started = time.perf_counter()
    first = code_sha256()
    assert time.perf_counter() - started < 1.0
    assert code_sha256() is first and code_sha256.cache_info().misses == 1
