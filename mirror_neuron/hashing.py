"""sha256 digests of what a step's output depends on: files, input files (cached), the package's code."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path

from mirror_neuron.cache import CACHE_DIR

CACHED_HASH_BYTES = 64 << 20
PACKAGE_ROOT = Path(__file__).resolve().parent


@functools.cache
def code_sha256() -> str:
    """sha256 of this package's source (:func:`source_tree_sha256` of ``PACKAGE_ROOT``), once per process."""
    return source_tree_sha256(PACKAGE_ROOT)


def source_tree_sha256(root: Path) -> str:
    """sha256 of every ``.py`` file under ``root`` by relative path and content, in path order;
    ``__pycache__`` folders, file times and the order files were written in do not count."""
    digest = hashlib.sha256()
    files = sorted((path.relative_to(root).as_posix(), path) for path in root.rglob("*.py")
                   if "__pycache__" not in path.relative_to(root).parts and path.is_file())
    for relative, path in files:
        content = path.read_bytes()
        digest.update(f"{relative}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_sha256(path: Path) -> str:
    """sha256 of an input file. Files of ``CACHED_HASH_BYTES`` or more (checkpoints) are remembered by
    (path, size, mtime) in the cache folder, so that they are hashed once, not at every run."""
    cache_file = CACHE_DIR / "sha256.json"
    stat = path.stat()
    if stat.st_size < CACHED_HASH_BYTES:
        return sha256_file(path)
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        cache[key] = sha256_file(path)
        with contextlib.suppress(OSError):
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = cache_file.with_name(f".sha256-{os.getpid()}.json")
            temporary.write_text(json.dumps(cache))
            os.replace(temporary, cache_file)
    return cache[key]
