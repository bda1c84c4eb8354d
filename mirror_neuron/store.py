"""Content-addressed storage of step outputs, written chunk by chunk and atomically.

Layout under the store root::

    <fp>/                finished output: manifest.json, <table>.parquet, chunks/<n>/<other files>
    <fp>.partial/        an output being written: chunks/<n>/ for each completed chunk
    <fp>.lock            held while a process writes <fp>

A chunk directory is written under a temporary name and renamed into place, so a chunk either
exists whole or not at all; an output becomes finished by renaming ``<fp>.partial`` to ``<fp>``.
An interrupted output (Ctrl-C, kill -9) is therefore never taken as finished, and a rerun resumes
after its last completed chunk.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirror_neuron import __version__
from mirror_neuron.hashing import code_sha256, sha256_file

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CHUNKS = "chunks"
MANIFEST = "manifest.json"
PLOTS = "plots"
TABLE_SUFFIX = ".parquet"
TENSORS = "tensors.safetensors"


def fingerprint(kind: str, entrypoint: str, resolved: dict[str, Any], upstream: dict[str, str]) -> str:
    """sha256 of what determines an output: its kind, resolved config, upstream outputs, version and
    the package's source code (:func:`code_sha256`), so that a change to the code recomputes."""
    payload = {
        "kind": kind,
        "entrypoint": entrypoint,
        "config": resolved,
        "upstream": sorted(upstream.values()),
        "version": __version__,
        "code": code_sha256(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class StepOutput:
    """A finished step output: its manifest, tables and files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text())

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def rows(self) -> dict[str, int]:
        return self.manifest["rows"]

    def table_path(self, name: str = "data") -> Path:
        return self.path / f"{name}{TABLE_SUFFIX}"

    def table(self, name: str = "data", columns: list[str] | None = None):  # -> pandas.DataFrame
        import pandas as pd

        return pd.read_parquet(self.table_path(name), columns=columns)

    def head(self, name: str = "data", rows: int = 20):  # -> pandas.DataFrame | None
        """The first ``rows`` rows of table ``name`` (read without loading the table), or ``None``."""
        if not self.table_path(name).exists():
            return None
        return next(self.iter_batches(name, rows), None)

    def plots(self) -> list[Path]:
        """The PNG plots the step wrote (``chunks/<n>/plots/<name>.png``), sorted by chunk and name."""
        return sorted((self.path / CHUNKS).glob(f"*/{PLOTS}/*.png"))

    def tensor(self, name: str) -> np.ndarray:
        """One stored tensor (``embeddings``, ``chosen_hidden_states``, ...) of every row, in table order,
        from the shard each chunk wrote (:meth:`Chunk.tensors`)."""
        import numpy as np
        from safetensors.numpy import load_file

        shards = sorted(self.path.glob(f"{CHUNKS}/*/{TENSORS}"))
        if not shards:
            raise FileNotFoundError(f"{self.path} stores no tensors")
        return np.concatenate([load_file(str(shard))[name] for shard in shards])

    def iter_batches(self, name: str = "data", batch_rows: int = 1024) -> Iterator[Any]:
        """The table as pandas frames of at most ``batch_rows`` rows, without loading it whole."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.table_path(name)) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                yield batch.to_pandas()


class Chunk:
    """One chunk being written: tables and files land in a temporary directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def table(self, name: str, frame: Any) -> None:
        """Add rows (a pandas DataFrame or pyarrow Table) to table ``name``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, self.directory / f"{name}{TABLE_SUFFIX}")

    def tensors(self, arrays: dict[str, np.ndarray]) -> None:
        """Store this chunk's tensors (one shard, safetensors); the finished output reads them back with
        :meth:`StepOutput.tensor`, concatenated over the chunks."""
        from safetensors.numpy import save_file

        save_file(arrays, str(self.file(TENSORS)))

    def file(self, name: str) -> Path:
        """A path inside this chunk for a step's own file (tensors, shards)."""
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class ChunkWriter:
    """Writes a step's output chunk by chunk into ``<fp>.partial``."""

    def __init__(self, partial_dir: Path) -> None:
        self.partial_dir = partial_dir
        self.chunks_dir = partial_dir / CHUNKS
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.chunks_dir.glob(".tmp-*"):  # left by a killed writer
            shutil.rmtree(stale, ignore_errors=True)
        self.completed = _count_completed(self.chunks_dir)
        self.resumed_from = self.completed
        self.on_chunk: Callable[[int], None] | None = None  # progress hook, given the chunk count

    @contextlib.contextmanager
    def chunk(self) -> Iterator[Chunk]:
        """Write the next chunk; it is committed (renamed into place) only if the block succeeds."""
        final = self.chunk_dir(self.completed)
        temporary = self.chunks_dir / f".tmp-{self.completed:06d}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        try:
            yield Chunk(temporary)
            _fsync_dir(temporary)
            os.rename(temporary, final)
            _fsync_dir(self.chunks_dir)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        self.completed += 1
        if self.on_chunk is not None:
            self.on_chunk(self.completed)

    def chunk_dir(self, index: int) -> Path:
        """The folder of completed chunk ``index``."""
        return self.chunks_dir / f"{index:06d}"

    def chunk_file(self, index: int, name: str) -> Path:
        """A step's own file ``name`` in completed chunk ``index`` (state it saved, read on resume)."""
        return self.chunk_dir(index) / name

    def read_table(self, index: int, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """Table ``name`` of completed chunk ``index``, or None when that chunk has no such table."""
        import pandas as pd

        path = self.chunk_dir(index) / f"{name}{TABLE_SUFFIX}"
        return pd.read_parquet(path, columns=columns) if path.exists() else None

    def read_tables(self, name: str, columns: list[str] | None = None, chunks: range | None = None) -> pd.DataFrame:
        """Table ``name`` of the completed chunks, in chunk order, as one frame. Of all chunks, those
        without that table are skipped (an empty frame when none has it); each chunk named in ``chunks``
        must have it (``FileNotFoundError`` otherwise)."""
        import pandas as pd

        frames = []
        for index in chunks if chunks is not None else range(self.completed):
            frame = self.read_table(index, name, columns)
            if frame is None and chunks is not None:
                raise FileNotFoundError(f"chunk {index} of {self.partial_dir} has no table '{name}'")
            if frame is not None:
                frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    def write(self, **tables: Any) -> None:
        """Write one chunk holding the given tables (``writer.write(data=frame)``)."""
        with self.chunk() as chunk:
            for name, frame in tables.items():
                chunk.table(name, frame)


def _count_completed(chunks_dir: Path) -> int:
    count = 0
    while (chunks_dir / f"{count:06d}").is_dir():
        count += 1
    return count


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class Store:
    """The content-addressed store of step outputs."""

    root: Path

    def finished(self, fp: str) -> StepOutput | None:
        path = self.root / fp[:20]
        return StepOutput(path) if (path / MANIFEST).is_file() else None

    def partial_chunks(self, fp: str) -> int:
        """How many chunks an interrupted run of ``fp`` left (0 if none)."""
        chunks = self.root / f"{fp[:20]}.partial" / CHUNKS
        return _count_completed(chunks) if chunks.is_dir() else 0

    @contextlib.contextmanager
    def lock(self, fp: str) -> Iterator[None]:
        """Hold ``<fp>.lock`` so two runs never write the same output at once."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{fp[:20]}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def writer(self, fp: str, fresh: bool = False) -> ChunkWriter:
        """A writer for ``fp``: resuming its partial output, or starting over when ``fresh``."""
        partial = self.root / f"{fp[:20]}.partial"
        if fresh:
            shutil.rmtree(partial, ignore_errors=True)
        return ChunkWriter(partial)

    def discard_if_empty(self, writer: ChunkWriter) -> None:
        """Remove a partial output that holds no completed chunk (a step failed before writing)."""
        if writer.completed == 0:
            shutil.rmtree(writer.partial_dir, ignore_errors=True)

    def commit(self, fp: str, writer: ChunkWriter, manifest: dict[str, Any]) -> StepOutput:
        """Merge chunk tables, write the manifest, and atomically publish the finished output."""
        partial = writer.partial_dir
        manifest["rows"], parts = _merge_tables(partial)
        manifest["files"] = [
            {"path": str(path.relative_to(partial)), "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            for path in sorted(partial.rglob("*"))
            if path.is_file() and path not in parts
        ]
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        final = self.root / fp[:20]
        if final.exists():  # --force: replace the old output
            trash = self.root / f"{fp[:20]}.old-{os.getpid()}"
            os.rename(final, trash)
            os.rename(partial, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(partial, final)
        _fsync_dir(self.root)
        _remove_parts(final, [final / p.relative_to(partial) for p in parts])
        return StepOutput(final)


def _merge_tables(partial: Path) -> tuple[dict[str, int], list[Path]]:
    """Stream each table's chunk parts, in chunk order, into one ``<table>.parquet``.

    Parts stay in place (so a merge killed midway can simply run again); returns the row counts
    and the merged parts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk_dirs = sorted(p for p in (partial / CHUNKS).iterdir() if p.is_dir() and not p.name.startswith("."))
    parts: dict[str, list[Path]] = {}
    for chunk_dir in chunk_dirs:
        for part in sorted(chunk_dir.glob(f"*{TABLE_SUFFIX}")):
            parts.setdefault(part.stem, []).append(part)
    rows: dict[str, int] = {}
    for name, paths in parts.items():
        schema = pa.unify_schemas([pq.read_schema(p) for p in paths], promote_options="permissive")
        schema = schema.remove_metadata()
        rows[name] = 0
        with pq.ParquetWriter(partial / f"{name}{TABLE_SUFFIX}", schema) as out:
            for path in paths:
                table = _conform(pq.read_table(path), schema)
                out.write_table(table)
                rows[name] += table.num_rows
    return rows, [path for paths in parts.values() for path in paths]


def _remove_parts(output: Path, parts: list[Path]) -> None:
    """Delete merged table parts and the chunk folders they leave empty."""
    for part in parts:
        part.unlink(missing_ok=True)
    chunks = output / CHUNKS
    if chunks.is_dir():
        for chunk_dir in sorted(chunks.iterdir(), reverse=True):
            if chunk_dir.is_dir() and not any(chunk_dir.iterdir()):
                chunk_dir.rmdir()
        if not any(chunks.iterdir()):
            chunks.rmdir()


def _conform(table: Any, schema: Any) -> Any:
    """``table`` with ``schema``'s columns and types (missing columns become nulls)."""
    import pyarrow as pa

    columns = []
    for schema_field in schema:
        if schema_field.name in table.schema.names:
            columns.append(table.column(schema_field.name).cast(schema_field.type))
        else:
            columns.append(pa.nulls(table.num_rows, type=schema_field.type))
    return pa.Table.from_arrays(columns, schema=schema)
