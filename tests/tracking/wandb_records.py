"""A small reader for W&B offline run files (``run-<id>.wandb``), for tests.

The file is a LevelDB-log-format stream: a 7-byte header (``b":W&B"``, magic 0xBEE1 little-endian, version 0),
then records in 32 KiB blocks (offsets counted from the start of the file, header included). Each record is
``crc32 (4) | length (2, LE) | type (1: FULL, 2: FIRST, 3: MIDDLE, 4: LAST) | data``; fewer than 7 bytes left
in a block are zero padding. Each reassembled payload is a ``wandb_internal_pb2.Record``.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 * 1024
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class WandbFileError(ValueError):
    """The file is not a well-formed W&B run file."""


def record_crc(kind: int, data: bytes) -> int:
    """The checksum W&B writes: CRC-32 (IEEE, as ``zlib.crc32``) of the type byte, then the data.

    Unlike LevelDB this is not CRC-32C and is not masked; checked against wandb 0.31 offline files.
    """
    return zlib.crc32(data, zlib.crc32(bytes([kind])))


def read_payloads(path: Path, check_crc: bool = True) -> list[bytes]:
    """Every record payload in the file, fragments joined."""
    raw = Path(path).read_bytes()
    if raw[: len(HEADER)] != HEADER:
        raise WandbFileError(f"{path}: bad header {raw[:len(HEADER)]!r}")
    payloads: list[bytes] = []
    pending: bytearray | None = None
    offset = len(HEADER)
    while offset < len(raw):
        left_in_block = BLOCK - offset % BLOCK
        if left_in_block < RECORD_HEADER:
            offset += left_in_block  # zero padding at the end of a block
            continue
        if offset + RECORD_HEADER > len(raw):
            break
        checksum, length, kind = struct.unpack_from("<IHB", raw, offset)
        if checksum == 0 and length == 0 and kind == 0:  # zero fill at the end of a block or file
            offset += left_in_block
            continue
        start = offset + RECORD_HEADER
        data = raw[start:start + length]
        if len(data) != length or length > left_in_block - RECORD_HEADER:
            raise WandbFileError(f"{path}: record at offset {offset} runs past its block or the file")
        if check_crc and checksum != record_crc(kind, data):
            raise WandbFileError(f"{path}: checksum mismatch at offset {offset}")
        offset = start + length
        if kind == FULL:
            if pending is not None:
                raise WandbFileError(f"{path}: FULL record inside a fragmented one at offset {offset}")
            payloads.append(data)
        elif kind == FIRST:
            pending = bytearray(data)
        elif kind in (MIDDLE, LAST):
            if pending is None:
                raise WandbFileError(f"{path}: fragment without a FIRST at offset {offset}")
            pending += data
            if kind == LAST:
                payloads.append(bytes(pending))
                pending = None
        else:
            raise WandbFileError(f"{path}: unknown record type {kind} at offset {offset}")
    if pending is not None:
        raise WandbFileError(f"{path}: file ends inside a fragmented record")
    return payloads


def read_records(path: Path) -> list[wandb_internal_pb2.Record]:
    """Every protobuf ``Record`` in the file, in order."""
    records = []
    for payload in read_payloads(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _item_key(item: Any) -> str:
    """A config/history/summary item's key (``nested_key`` joined with ``/`` when ``key`` is empty)."""
    return item.key or "/".join(item.nested_key)


@dataclass
class Artifact:
    """An artifact the run logged."""

    name: str
    type: str
    digest: str
    metadata: dict[str, Any]
    paths: list[str]


@dataclass
class OfflineRun:
    """What a W&B run file says about its run."""

    path: Path
    kinds: list[str]
    run_id: str = ""
    project: str = ""
    display_name: str = ""
    group: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def history_keys(self) -> set[str]:
        """Every key logged in any history row."""
        return {key for row in self.history for key in row}


def read_run(path: Path) -> OfflineRun:
    """Decode a ``run-<id>.wandb`` file into its run, config, history, summary, artifacts and exit."""
    records = read_records(path)
    run = OfflineRun(Path(path), [r.WhichOneof("record_type") or "" for r in records])
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.project = record.run.run_id, record.run.project
            run.display_name = record.run.display_name or run.display_name
            run.tags = list(record.run.tags) or run.tags
            run.group = record.run.run_group or run.group
            for item in record.run.config.update:
                run.config[_item_key(item)] = _json(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run.config[_item_key(item)] = _json(item.value_json)
            for item in record.config.remove:
                run.config.pop(_item_key(item), None)
        elif kind == "history":
            run.history.append({_item_key(item): _json(item.value_json) for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                run.summary[_item_key(item)] = _json(item.value_json)
            for item in record.summary.remove:
                run.summary.pop(_item_key(item), None)
        elif kind == "artifact":
            artifact = record.artifact
            run.artifacts.append(Artifact(artifact.name, artifact.type, artifact.digest,
                                          _json(artifact.metadata) if artifact.metadata else {},
                                          [entry.path for entry in artifact.manifest.contents]))
        elif kind == "files":
            run.files.extend(file.path for file in record.files.files)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


def find_run_files(out: Path) -> list[Path]:
    """Every offline run file under ``<out>/wandb``, oldest first."""
    return sorted(Path(out).glob("wandb/offline-run-*/run-*.wandb"))
