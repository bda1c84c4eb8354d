"""Content-addressed storage of step outputs, written chunk by chunk and atomically.

Layout under the store root::

    <fp>/                finished output: manifest.json, <table>.parquet, chunks/<n>/<other files>
    <fp>.partial/        an output being written: chunks/<n>/ for each completed chunk
    <fp>.lock            held while a process writes <fp>
    <name>.damaged-<t>/  an output (or chunks of one) that no longer matched its records, set aside
    verified-files.sqlite  digests of files already verified (:mod:`mirror_neuron.verify`)

A chunk directory is written under a temporary name and renamed into place, so a chunk either
exists whole or not at all; an output becomes finished by renaming ``<fp>.partial`` to ``<fp>``.
An interrupted output (Ctrl-C, kill -9) is therefore never taken as finished, and a rerun resumes
after its last completed chunk.

Nothing stored is trusted on its word: each chunk lists its files with their size and sha256
(``chunk-files.json``) and the manifest lists every file of the finished output. An output is checked
against its manifest before it is reused, and a partial output's chunks before a run resumes after
them; what does not match is set aside (renamed, never deleted) and computed again.

A commit merges the chunks' tables, writes the manifest into the partial output (the point from which
the output is complete), removes what the manifest does not list (merged table parts, chunk lists)
and only then renames the partial output into place, so a published output holds exactly its
manifest's files; a commit killed after its manifest was written is published by the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirror_neuron import __version__
from mirror_neuron.errors import disk_full_is_user_error
from mirror_neuron.hashing import code_sha256
from mirror_neuron.verify import VerifiedFiles, check_files, file_records, problems_text, verified_files

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CHUNKS = "chunks"
CHUNK_FILES = "chunk-files.json"  # in each stored chunk: its files' records (mirror_neuron.verify)
DAMAGED = ".damaged-"  # a set-aside folder is named <name>.damaged-<UTC time>
MANIFEST = "manifest.json"
PARTIAL = ".partial"
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
        if name == CHUNK_FILES:
            raise ValueError(f"'{CHUNK_FILES}' is the store's own record of a chunk's files")
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class Damage:
    """A stored output, or the chunks of a partial one from the first bad chunk on, that did not match
    what was recorded when it was written, and where it was set aside."""

    path: Path
    problems: list[str]
    moved_to: Path

    def __str__(self) -> str:
        return problems_text(self.problems)


class ChunkWriter:
    """Writes a step's output chunk by chunk into ``<fp>.partial``.

    On opening, the chunks already there are checked in order against their lists of files: the writer
    resumes after the last whole one, and a damaged or missing chunk is set aside with every chunk after
    it (:attr:`set_aside` says what was moved, or is None)."""

    def __init__(self, partial_dir: Path) -> None:
        self.partial_dir = partial_dir
        self.chunks_dir = partial_dir / CHUNKS
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.chunks_dir.glob(".tmp-*"):  # left by a killed writer
            shutil.rmtree(stale, ignore_errors=True)
        self.hashes = verified_files(partial_dir.parent)
        self.completed, problems, after = _whole_chunks(self.chunks_dir, self.hashes)
        self.set_aside = _set_aside_chunks(partial_dir, after, problems) if problems else None
        self.resumed_from = self.completed
        self.on_chunk: Callable[[int], None] | None = None  # progress hook, given the chunk count

    @contextlib.contextmanager
    def chunk(self) -> Iterator[Chunk]:
        """Write the next chunk; it is committed (renamed into place) only if the block succeeds."""
        final = self.chunk_dir(self.completed)
        temporary = self.chunks_dir / f".tmp-{self.completed:06d}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        try:
            with disk_full_is_user_error(self.partial_dir):
                temporary.mkdir()
                yield Chunk(temporary)
                files = [path for path in temporary.rglob("*") if path.is_file()]
                _write_json(temporary / CHUNK_FILES, file_records(temporary, files, self.hashes))
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


def _whole_chunks(chunks_dir: Path, hashes: VerifiedFiles) -> tuple[int, list[str], list[Path]]:
    """How many chunks, from the first, match their lists of files; what is wrong with the next one
    (empty when there is no next one), and the chunk folders from that one on."""
    count, problems = 0, []
    while (chunks_dir / f"{count:06d}").is_dir():
        problems = [f"chunk {count:06d}: {problem}" for problem in _check_chunk(chunks_dir / f"{count:06d}", hashes)]
        if problems:
            break
        count += 1
    after = sorted(p for p in chunks_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and not (p.name.isdigit() and int(p.name) < count)) if chunks_dir.is_dir() else []
    if after and not problems:
        problems = [f"chunk {count:06d} is missing, and {len(after)} later chunk(s) are stored"]
    return count, problems, after


def _check_chunk(chunk_dir: Path, hashes: VerifiedFiles) -> list[str]:
    records, problem = _read_json(chunk_dir / CHUNK_FILES)
    if problem:
        return [problem]
    return check_files(chunk_dir, records, hashes) or _unlisted(chunk_dir, records, {CHUNK_FILES})


def _set_aside_chunks(partial_dir: Path, chunk_dirs: list[Path], problems: list[str]) -> Damage:
    """Move ``chunk_dirs`` out of the partial output, to ``<fp>.partial.damaged-<t>/chunks/``."""
    aside = _aside_path(partial_dir)
    (aside / CHUNKS).mkdir(parents=True)
    for chunk_dir in chunk_dirs:
        os.rename(chunk_dir, aside / CHUNKS / chunk_dir.name)
    _fsync_dir(partial_dir / CHUNKS)
    return Damage(partial_dir, problems, aside)


def _aside_path(path: Path) -> Path:
    """A free name ``<name>.damaged-<UTC time>`` beside ``path``."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}{DAMAGED}{stamp}")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}{DAMAGED}{stamp}-{number}")
    return aside


def check_output(path: Path, complete: bool = True) -> list[str]:
    """What is wrong with the output folder ``path``: its manifest is missing, unreadable or names another
    output, or a file does not match its record (size, sha256); with ``complete``, a file the manifest
    does not list is wrong too. Empty when the output is whole. Digests are remembered in the store's
    :class:`~mirror_neuron.verify.VerifiedFiles`, so an unchanged file is read once."""
    manifest, problem = _read_json(path / MANIFEST)
    if problem:
        return [problem]
    if not isinstance(manifest, dict) or not isinstance(manifest.get("rows"), dict):
        return [f"{MANIFEST} is not an output's manifest"]
    fp = manifest.get("fingerprint")
    if not isinstance(fp, str) or path.name.split(".", 1)[0] != fp[:20]:
        return [f"{MANIFEST} belongs to another output (fingerprint {str(fp)[:12]})"]
    problems = check_files(path, manifest.get("files"), verified_files(path.parent))
    if complete and not problems:
        problems = _unlisted(path, manifest["files"], {MANIFEST})
    return problems


def _unlisted(folder: Path, records: list[dict[str, Any]], own: set[str]) -> list[str]:
    listed = {record["path"] for record in records} | own
    found = (path.relative_to(folder).as_posix() for path in sorted(folder.rglob("*")) if path.is_file())
    return [f"{name} is not among the stored files" for name in found if name not in listed]


def _read_json(path: Path) -> tuple[Any, str]:
    """``(content, "")``, or ``(None, problem)`` when ``path`` is missing or not JSON."""
    try:
        return json.loads(path.read_bytes()), ""
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except (OSError, ValueError) as error:
        return None, f"{path.name} is unreadable ({' '.join(str(error).split())})"


def _write_json(path: Path, content: Any) -> None:
    """Write ``path`` whole or not at all (a temporary file, flushed to disk, renamed into place)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "w") as handle:
        handle.write(json.dumps(content, indent=2, sort_keys=True, default=str))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class Checked:
    """One output of the store as :meth:`Store.check_all` found it."""

    path: Path
    partial: bool
    problems: list[str] = field(default_factory=list)
    busy: bool = False  # another process held its lock: being written, not checked


OUTPUT_NAME = re.compile(r"[0-9a-f]{20}(\.partial)?")


@dataclass
class Store:
    """The content-addressed store of step outputs."""

    root: Path

    def finished(self, fp: str) -> StepOutput | None:
        """The finished output of ``fp`` as it is (:meth:`reusable` checks it first)."""
        path = self.root / fp[:20]
        return StepOutput(path) if (path / MANIFEST).is_file() else None

    def has_finished(self, fp: str) -> bool:
        """Whether a finished output of ``fp`` is there, without reading it (:meth:`reusable` checks it)."""
        return (self.root / fp[:20] / MANIFEST).is_file()

    def reusable(self, fp: str) -> tuple[StepOutput | None, Damage | None]:
        """The finished output of ``fp`` once it matches its manifest (see :func:`check_output`), and what was
        set aside: a damaged output is renamed to ``<fp>.damaged-<t>`` and None returned, to be computed
        again. A commit that was killed after writing its manifest is published first. Call it holding
        :meth:`lock`."""
        damage = self._publish_interrupted_commit(fp)
        final = self.root / fp[:20]
        if not final.exists() and not final.is_symlink():
            return None, damage
        problems = check_output(final)
        if problems:
            return None, self._set_aside(final, problems)
        return StepOutput(final), damage

    def partial_chunks(self, fp: str) -> int:
        """How many chunks an interrupted run of ``fp`` left (0 if none)."""
        chunks = self.root / f"{fp[:20]}{PARTIAL}" / CHUNKS
        return _count_completed(chunks) if chunks.is_dir() else 0

    @contextlib.contextmanager
    def lock(self, fp: str, wait: bool = True) -> Iterator[bool]:
        """Hold ``<fp>.lock`` so two runs never write the same output at once. Without ``wait``, gives False
        at once (holding nothing) when another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{fp[:20]}.lock"
        try:
            handle = open(path, "w")
        except OSError as error:
            if wait or error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            # a store this process may only read (`verify` of someone else's store): lock what lock files
            # there are, read-only; without one, nothing can be writing through this process anyway
            try:
                handle = open(path)
            except OSError:
                yield True
                return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def writer(self, fp: str, fresh: bool = False) -> ChunkWriter:
        """A writer for ``fp``: resuming its partial output after its last whole chunk, or starting over
        when ``fresh``."""
        partial = self.root / f"{fp[:20]}{PARTIAL}"
        if fresh:
            shutil.rmtree(partial, ignore_errors=True)
        return ChunkWriter(partial)

    def check_all(self) -> list[Checked]:
        """Every finished and partial output of the store, checked (each under its lock, skipping those
        being written): finished ones against their manifests, partial ones chunk by chunk."""
        checked = []
        for path in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            match = OUTPUT_NAME.fullmatch(path.name)
            if not match or not path.is_dir():
                continue
            entry = Checked(path, partial=bool(match.group(1)))
            with self.lock(path.name[:20], wait=False) as held:
                if not held:
                    entry.busy = True
                elif not entry.partial:
                    entry.problems = check_output(path)
                elif (path / MANIFEST).is_file():  # merged when its commit was interrupted
                    entry.problems = check_output(path, complete=False)
                else:
                    entry.problems = _whole_chunks(path / CHUNKS, verified_files(self.root))[1]
            checked.append(entry)
        return checked

    def set_aside_folders(self) -> list[Path]:
        """The folders damaged outputs and chunks were moved to."""
        return sorted(p for p in self.root.glob(f"*{DAMAGED}*") if p.is_dir()) if self.root.is_dir() else []

    def _set_aside(self, path: Path, problems: list[str]) -> Damage:
        aside = _aside_path(path)
        os.rename(path, aside)
        _fsync_dir(self.root)
        return Damage(path, problems, aside)

    def discard_if_empty(self, writer: ChunkWriter) -> None:
        """Remove a partial output that holds no completed chunk (a step failed before writing)."""
        if writer.completed == 0:
            shutil.rmtree(writer.partial_dir, ignore_errors=True)

    def commit(self, fp: str, writer: ChunkWriter, manifest: dict[str, Any]) -> StepOutput:
        """Merge chunk tables, write the manifest listing every file that stays, and publish the output."""
        partial = writer.partial_dir
        with disk_full_is_user_error(partial):
            manifest["rows"], parts = _merge_tables(partial)
            merged = {partial / f"{name}{TABLE_SUFFIX}" for name in manifest["rows"]}
            scaffolding = {*parts, *partial.glob(f"{CHUNKS}/*/{CHUNK_FILES}")}
            kept = [path for path in partial.rglob("*") if path in merged
                    or path.is_file() and path.parent != partial and path not in scaffolding]
            manifest["files"] = file_records(partial, kept, writer.hashes)
            _write_json(partial / MANIFEST, manifest)
        return self._publish(fp)

    def _publish(self, fp: str) -> StepOutput:
        """Rename a partial output holding its manifest into place, once it holds only the listed files."""
        partial, final = self.root / f"{fp[:20]}{PARTIAL}", self.root / fp[:20]
        listed = {record["path"] for record in json.loads((partial / MANIFEST).read_text())["files"]}
        _remove_unlisted(partial, listed | {MANIFEST})
        if final.exists():  # --force: replace the old output
            trash = self.root / f"{fp[:20]}.old-{os.getpid()}"
            os.rename(final, trash)
            os.rename(partial, final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(partial, final)
        _fsync_dir(self.root)
        return StepOutput(final)

    def _publish_interrupted_commit(self, fp: str) -> Damage | None:
        """Publish a partial output whose commit was killed after its manifest was written, when it still
        matches that manifest; else set it aside (its merged table parts may be gone)."""
        partial = self.root / f"{fp[:20]}{PARTIAL}"
        if not (partial / MANIFEST).is_file():
            return None
        problems = check_output(partial, complete=False)
        if problems:
            return self._set_aside(partial, problems)
        self._publish(fp)
        return None


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


def _remove_unlisted(output: Path, listed: set[str]) -> None:
    """Delete the files of ``output`` not in ``listed`` (merged table parts, chunk lists, a stale temporary
    manifest) and the folders they leave empty; flushed to disk before the output is published."""
    for path in sorted(output.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif path.relative_to(output).as_posix() not in listed:
            path.unlink()
    _fsync_dir(output)


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
