"""Generations cached by content, so that a model never generates the same completion twice.

One SQLite file in WAL mode, shared by repetitions, runs and processes: ``generations.sqlite`` in the
cache folder (``$MIRROR_NEURON_CACHE``), or the file ``$MIRROR_NEURON_GENERATIONS`` names. A
completion's key is the sha256 of the model's identity (its path and the sha256 of its files or
weights; a served model: its server and name), the chat messages as sent, the sampling seed and the
generation parameters. A served completion also keeps the real seconds its call took.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mirror_neuron import cache

CACHE_FILE = "generations.sqlite"
FILE_VARIABLE = "MIRROR_NEURON_GENERATIONS"
KEY_FORMAT = 1  # bump when the way a completion is generated from its key changes
LOOKUP_BATCH = 500  # keys per SQLite query


def cache_file() -> Path:
    """Where generations are kept: ``$MIRROR_NEURON_GENERATIONS``, else the cache folder's file."""
    return Path(os.environ.get(FILE_VARIABLE) or cache.CACHE_DIR / CACHE_FILE)


class GenerationCache:
    """``key -> completion`` in SQLite; safe for concurrent processes. ``hits`` and ``misses`` count the
    keys looked up through this object."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.hits = 0
        self.misses = 0
        file.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(file, timeout=60, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("CREATE TABLE IF NOT EXISTS generations "
                                "(key TEXT PRIMARY KEY, completion TEXT NOT NULL, elapsed REAL)")
        columns = {row[1] for row in self.connection.execute("PRAGMA table_info(generations)")}
        if "elapsed" not in columns:  # a file written before served completions were kept
            with contextlib.suppress(sqlite3.OperationalError), self.connection:  # another process added it first
                self.connection.execute("ALTER TABLE generations ADD COLUMN elapsed REAL")

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        """The cached completions of ``keys`` (those found); every key looked up counts as a hit or a miss."""
        return {key: completion for key, (completion, _) in self.get_timed(keys).items()}

    def get_timed(self, keys: Sequence[str]) -> dict[str, tuple[str, float | None]]:
        """``key -> (completion, elapsed seconds or None)`` of the ``keys`` found, counted as :meth:`get` counts."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, tuple[str, float | None]] = {}
        for start in range(0, len(unique), LOOKUP_BATCH):
            batch = unique[start:start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            found.update((key, (completion, elapsed)) for key, completion, elapsed in self.connection.execute(
                f"SELECT key, completion, elapsed FROM generations WHERE key IN ({marks})", batch))
        hits = sum(key in found for key in keys)
        self.hits += hits
        self.misses += len(keys) - hits
        return found

    def put(self, completions: dict[str, str], elapsed: dict[str, float] | None = None) -> None:
        """Keep ``completions``, with the real seconds each call took where ``elapsed`` gives them."""
        elapsed = elapsed or {}
        with self.connection:
            self.connection.executemany(
                "INSERT OR IGNORE INTO generations (key, completion, elapsed) VALUES (?, ?, ?)",
                [(key, completion, elapsed.get(key)) for key, completion in completions.items()])

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


def open_cache(file: Path) -> GenerationCache:
    """The process's one connection to ``file`` (so its counters add up over every miner using it)."""
    return _connection(file, os.getpid())  # a forked process opens its own


@functools.cache
def _connection(file: Path, pid: int) -> GenerationCache:
    return GenerationCache(file)


def generation_key(model: str, chat: Sequence[tuple[str, str]], seed: int | None, parameters: dict[str, Any]) -> str:
    """The key of one completion: ``model`` (an identity from :func:`model_identity`), the (role, content)
    messages as sent, the sampling seed (None: greedy) and the generation parameters."""
    text = json.dumps({"format": KEY_FORMAT, "model": model, "chat": [list(message) for message in chat],
                       "seed": seed, "parameters": parameters}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def model_identity(path: str, files: Sequence[Path], load_model: Callable[[], Any]) -> str:
    """``path`` and the sha256 of the files the model loads from, or of its weights when it has none here
    (``tiny:`` models built from a seed, hub ids): another checkpoint under the same name is another model."""
    from mirror_neuron.hashing import source_sha256  # weight files are hashed once, then remembered

    digest = hashlib.sha256()
    if files:
        root = Path(os.path.commonpath([file.parent for file in files]))
        for file in sorted(files):
            digest.update(f"{file.relative_to(root)}\0{source_sha256(file)}\n".encode())
        return f"{path}:files:{digest.hexdigest()}"
    import torch

    for name, tensor in sorted(load_model().state_dict().items()):
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return f"{path}:weights:{digest.hexdigest()}"
