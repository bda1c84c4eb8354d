"""Checking stored files against what was recorded when they were written: each file's size and sha256.

A record is ``{"path": <relative path>, "bytes": <size>, "sha256": <digest>}``; an output's manifest lists
one per file, and each stored chunk keeps its own list (:data:`mirror_neuron.store.CHUNK_FILES`).

Hashing every file at every rerun would cost as much as reading the whole store, so digests already
computed are remembered in :class:`VerifiedFiles`, one SQLite file in the store, by each file's
(device, inode, size, mtime, ctime). Any write to a file changes its ctime (which no tool can set
back), and a copy is a new inode, so a file whose key is remembered has not changed since it was
hashed: it is not read again.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mirror_neuron.hashing import sha256_file

CACHE_FILE = "verified-files.sqlite"


class VerifiedFiles:
    """sha256 digests by file identity, shared by processes; when the file cannot be used (a read-only
    store, a full disk, a damaged database) digests are simply computed again."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.hashed = 0  # files this object had to read
        self.connection: sqlite3.Connection | None = None
        try:
            self.connection = sqlite3.connect(file, timeout=30, check_same_thread=False)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("CREATE TABLE IF NOT EXISTS files (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL)")
        except sqlite3.Error:
            self.connection = None

    def sha256(self, path: Path, stat: os.stat_result | None = None) -> str:
        """``path``'s sha256: remembered when the file is unchanged since it was hashed, else computed."""
        key = _identity(stat or path.stat())
        known = self._lookup(key)
        if known is not None:
            return known
        digest = sha256_file(path)
        self.hashed += 1
        if self.connection is not None:
            try:
                with self.connection:
                    self.connection.execute("INSERT OR REPLACE INTO files (key, sha256) VALUES (?, ?)", (key, digest))
            except sqlite3.Error:
                pass  # not remembered: it is hashed again next time
        return digest

    def _lookup(self, key: str) -> str | None:
        if self.connection is None:
            return None
        try:
            row = self.connection.execute("SELECT sha256 FROM files WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None


def verified_files(store_root: Path) -> VerifiedFiles:
    """The process's one :class:`VerifiedFiles` for the store at ``store_root``."""
    return _open(Path(store_root).resolve() / CACHE_FILE, os.getpid())  # a forked process opens its own


@functools.cache
def _open(file: Path, pid: int) -> VerifiedFiles:
    return VerifiedFiles(file)


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def file_records(folder: Path, paths: Iterable[Path], hashes: VerifiedFiles) -> list[dict[str, Any]]:
    """A record of each of ``paths`` (files under ``folder``), sorted by path."""
    records = []
    for path in sorted(paths):
        stat = path.stat()
        records.append({"path": path.relative_to(folder).as_posix(), "bytes": stat.st_size,
                        "sha256": hashes.sha256(path, stat)})
    return records


def check_files(folder: Path, records: Any, hashes: VerifiedFiles) -> list[str]:
    """What does not match ``records`` under ``folder``: each missing, resized or changed file, in record
    order, as ``"<path> is missing"`` and the like (empty when every file matches)."""
    if not isinstance(records, list) or not all(_is_record(r) for r in records):
        return ["its list of files is malformed"]
    problems = []
    for record in records:
        path = folder / record["path"]
        try:
            stat = path.stat()
        except OSError:
            problems.append(f"{record['path']} is missing")
            continue
        if not path.is_file():
            problems.append(f"{record['path']} is not a file")
        elif stat.st_size != record["bytes"]:
            problems.append(f"{record['path']} has {stat.st_size} bytes, {record['bytes']} were stored")
        elif hashes.sha256(path, stat) != record["sha256"]:
            problems.append(f"{record['path']} was changed after it was stored (its sha256 differs)")
    return problems


def problems_text(problems: list[str]) -> str:
    """The first of ``problems`` on one line, saying how many more there are."""
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def _is_record(record: Any) -> bool:
    return (isinstance(record, dict) and isinstance(record.get("path"), str) and isinstance(record.get("bytes"), int)
            and isinstance(record.get("sha256"), str) and not Path(record["path"]).is_absolute()
            and ".." not in Path(record["path"]).parts)
