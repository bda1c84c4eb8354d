"""Sentence embeddings cached by content, so that no text is embedded twice by the same model.

The cache is one SQLite file, ``embeddings.sqlite`` in the cache folder (``$MIRROR_NEURON_CACHE``). A
vector's key is the sha256 of the model's identity and the text; any experiment over the same texts
reuses it. The model is loaded only when some text is missing from the cache.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirror_neuron import cache
from mirror_neuron.log import PROGRESS_EVERY_S
from mirror_neuron.models.embeddings import ALIASES, MINILM

CACHE_FILE = "embeddings.sqlite"
LOOKUP_BATCH = 500  # keys per SQLite query
ENCODE_BATCH = 256  # texts per model call between progress checks


@dataclass(frozen=True)
class EmbeddingModel:
    """What to load (``source``) and what names its vectors in the cache (``identity``)."""

    source: str
    identity: str


def resolve_model(path: str, config_dir: Path) -> EmbeddingModel:
    """MiniLM's names map to the packaged copy; a local folder (relative to the config) is named by its
    files' sha256; anything else is a hub id."""
    if path in ALIASES:
        return EmbeddingModel(path, MINILM)
    local = Path(path).expanduser()
    local = local if local.is_absolute() else config_dir / local
    if local.is_dir():
        return EmbeddingModel(str(local.resolve()), "dir:" + _folder_sha256(local))
    return EmbeddingModel(path, path)


def _folder_sha256(folder: Path) -> str:
    from mirror_neuron.hashing import source_sha256  # large weight files are hashed once

    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts):
        digest.update(f"{file.relative_to(folder)}\0{source_sha256(file)}\n".encode())
    return digest.hexdigest()


@dataclass
class EmbedStats:
    computed: int = 0  # distinct texts the model embedded
    cached: int = 0  # distinct texts found in the cache


class VectorCache:
    """``key -> float32 vector`` in SQLite; safe for concurrent runs."""

    def __init__(self, file: Path | None = None) -> None:
        self.file = file or cache.CACHE_DIR / CACHE_FILE
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.file, timeout=60)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), LOOKUP_BATCH):
            batch = list(keys[start:start + LOOKUP_BATCH])
            marks = ",".join("?" * len(batch))
            for key, blob in self.connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        with self.connection:
            self.connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)",
                                        [(k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()])

    def close(self) -> None:
        self.connection.close()


def text_key(identity: str, text: str) -> str:
    return hashlib.sha256(f"{identity}\0{text}".encode()).hexdigest()


def embed(texts: Sequence[str], model: EmbeddingModel, batch_size: int = 64,
          progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, EmbedStats]:
    """Unit vectors for ``texts`` (in order), embedding only the distinct texts the cache lacks."""
    distinct = list(dict.fromkeys(texts))
    keys = {text: text_key(model.identity, text) for text in distinct}
    store = VectorCache()
    try:
        vectors = store.get(list(keys.values()))
        missing = [text for text in distinct if keys[text] not in vectors]
        stats = EmbedStats(computed=len(missing), cached=len(distinct) - len(missing))
        if missing:
            from mirror_neuron.models.embeddings import SentenceEmbedder

            embedder = SentenceEmbedder(model.source, batch_size=batch_size)
            last = time.monotonic()
            for start in range(0, len(missing), ENCODE_BATCH):
                batch = missing[start:start + ENCODE_BATCH]
                new = dict(zip((keys[t] for t in batch), embedder.encode(batch), strict=True))
                store.put(new)
                vectors.update(new)
                if progress and time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    progress(f"embedding {start + len(batch)}/{len(missing)} texts")
    finally:
        store.close()
    if not texts:
        return np.zeros((0, 0), np.float32), stats
    return np.stack([vectors[keys[text]] for text in texts]).astype(np.float32), stats
