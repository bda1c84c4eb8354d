"""Where data comes from: local files and folders, built-in sets, or the Hugging Face hub."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from mirror_neuron import limits, registry
from mirror_neuron.errors import UserError
from mirror_neuron.files import file_kind, read_bounded

FORMATS = (".jsonl", ".json", ".csv", ".parquet")
BUILTIN_PREFIX = "builtin:"
DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_TIMEOUT_S = 5
HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}
SPECIAL_FOLDERS = (Path("/proc"), Path("/sys"), Path("/dev"))  # never data, never scanned
LOCAL_ADVICE = "download it and set data.path to a local .jsonl, .json, .csv or .parquet file or folder"


def data_format(path: Path) -> str | None:
    """``.jsonl``/``.json``/``.csv``/``.parquet`` for a supported file (gzipped or not), else ``None``."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return next((suffix for suffix in FORMATS if name.endswith(suffix)), None)


def looks_local(text: str) -> bool:
    """Whether a ``path`` is meant as a local file rather than a hub dataset name."""
    return text.startswith((".", "/", "~")) or data_format(Path(text)) is not None


def is_hub_name(text: str) -> bool:
    """Whether ``text`` can name a Hugging Face dataset (``name`` or ``owner/name``)."""
    return bool(HUB_NAME.match(text))


def hub_offline() -> bool:
    """Whether the environment forbids hub access (``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(variable, "").strip().upper() in OFFLINE_VALUES
               for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def builtin_path(name: str) -> Path:
    """The packaged file of built-in data set ``name`` (see ``mirror-neuron ls``)."""
    component = registry.get("dataset", name)
    return Path(str(resources.files("mirror_neuron.resources") / component.target))


def split_files(folder: Path, split: str, only_split: bool) -> list[Path]:
    """Supported files of ``folder`` (see :func:`data_files`) that belong to ``split``.

    A file belongs to a split when the split's name is one of the words of its file name
    (``NQ-open.dev.jsonl`` is in ``dev``). When the schema names a single split and no file
    name mentions it, every supported file belongs to it.
    """
    files = data_files(folder)
    matching = [p for p in files if split.lower() in re.split(r"[^a-z0-9]+", p.name.lower())]
    if not matching and only_split:
        return files
    return matching


def data_files(folder: Path) -> list[Path]:
    """The supported files under ``folder``, sorted, found by a bounded walk.

    The walk stays on ``folder``'s file system (it never enters /proc, /sys, /dev or a mounted special
    file system), follows no folder links, skips hidden folders (``.git``, ``.cache``), and stops with a
    :class:`UserError` once it has visited more entries than the ``folder_entries`` limit. Files (or
    links to files, except into /proc, /sys or /dev) are kept when they are regular files of a
    supported type.
    """
    most = limits.limit("folder_entries")
    device = folder.stat().st_dev
    found: list[Path] = []
    visited = 0
    pending = [folder]
    while pending:
        try:
            entries = os.scandir(pending.pop())
        except OSError:  # an unreadable subfolder holds nothing we can load
            continue
        with entries:
            for entry in entries:
                visited += 1
                if visited > most:
                    raise UserError(f"{folder}: the folder holds too many entries to scan for data files: "
                                    f"{limits.over('folder_entries')}; point data.path at the data's own folder")
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not entry.name.startswith(".") and entry.stat(follow_symlinks=False).st_dev == device:
                            pending.append(Path(entry.path))
                    elif data_format(Path(entry.name)) and entry.is_file() and not (
                            entry.is_symlink() and special_folder(Path(entry.path).resolve())):
                        found.append(Path(entry.path))
                except OSError:  # a dangling link, or an entry removed while scanning
                    continue
    return sorted(found)


def check_size(path: Path) -> None:
    """Refuse, cheaply (one ``stat``), an uncompressed data file larger than the ``data_bytes`` limit;
    gzipped files are checked as they are decompressed."""
    size = path.stat().st_size
    if not path.name.endswith(".gz") and size > limits.limit("data_bytes"):
        raise UserError(f"{path}: the data file is too large: {limits.over('data_bytes', size)}")


def special_folder(path: Path) -> Path | None:
    """The special file system (/proc, /sys, /dev) that holds the resolved ``path``, if any."""
    return next((special for special in SPECIAL_FOLDERS if path == special or special in path.parents), None)


def check_local(path: Path) -> None:
    """Refuse a local data path that is not a regular file or a data folder: a special file system
    (/proc, /sys, /dev), the file system's root, or a device, FIFO or socket."""
    special = special_folder(path)
    if special is not None:
        raise UserError(f"{path} is on a special file system ({special}); data must be regular files")
    if path == Path(path.anchor):
        raise UserError(f"{path} is the root of the file system; point data.path at the data's own folder")
    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UserError(f"{path}: not a regular file or folder ({file_kind(mode)}); data must be regular files")


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of one local file, as dicts. Malformed content is a :class:`UserError`."""
    kind = data_format(path)
    try:
        raw = read_bounded(path, "data_bytes", "data file")
    except UserError as error:
        raise UserError(f"{path}: {error.message}") from None
    try:
        if kind == ".jsonl":
            return _read_jsonl(raw, path)
        if kind == ".json":
            return _read_json(raw, path)
        if kind == ".csv":
            import pandas as pd

            # every cell as written ("007" and "1.50" are answers, not numbers); empty cells stay ""
            return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False,
                               encoding="utf-8-sig").to_dict("records")
        if kind == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(io.BytesIO(raw)).to_pylist()
    except UserError:
        raise
    except Exception as error:  # parser errors of pandas/pyarrow
        raise UserError(f"{path}: cannot read as {kind} ({type(error).__name__}: {error})") from None
    raise UserError(f"{path}: unsupported file type; use one of {', '.join(FORMATS)} (optionally .gz)")


def _read_jsonl(raw: bytes, path: Path) -> list[dict[str, Any]]:
    records = []
    # Split on newlines only: str.splitlines() also breaks at U+2028, U+0085 and others, which
    # JSON strings may hold unescaped.
    for number, line_bytes in enumerate(raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if not line_bytes.strip():
            continue
        line = _decode(line_bytes, path, number)
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}: line {number}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}: line {number}: expected a JSON object per line")
        records.append(record)
    return records


def _decode(raw: bytes, path: Path, number: int | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = f" line {number}:" if number is not None else ""
        raise UserError(f"{path}:{line} not valid UTF-8 text ({error.reason} at byte {error.start})") from None


def _read_json(raw: bytes, path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(_decode(raw.removeprefix(b"\xef\xbb\xbf"), path))
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: line {error.lineno}: invalid JSON ({error.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UserError(f"{path}: expected a JSON list of objects (or {{\"data\": [...]}})")
    return data


def load_hub(name: str, split: str, revision: str | None) -> list[dict[str, Any]]:
    """Records of split ``split`` of hub dataset ``name``, through the ``datasets`` library.

    Fails fast, with one line that suggests a local file, when the hub cannot be reached: in
    offline mode (``HF_HUB_OFFLINE=1``) only the local cache is tried; otherwise a short probe
    of the hub API (``HF_ENDPOINT``) runs before ``datasets``, which would retry for long.
    """
    if not is_hub_name(name):
        raise UserError(f"'{name}' is neither a local file or folder nor a Hugging Face dataset name")
    offline = hub_offline()
    if not offline:
        endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")
        try:
            urllib.request.urlopen(f"{endpoint}/api/datasets/{name}", timeout=HUB_TIMEOUT_S).close()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise UserError(f"no dataset '{name}' on the Hugging Face hub; check the name, or "
                                f"{LOCAL_ADVICE}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(f"cannot reach the Hugging Face hub to load dataset '{name}' ({_one_line(reason)}); "
                            f"{LOCAL_ADVICE}") from None
    try:
        import datasets
    except ImportError:
        raise UserError(f"loading hub dataset '{name}' needs the 'datasets' package; install it, or "
                        f"{LOCAL_ADVICE}") from None
    try:
        table = datasets.load_dataset(name, split=split, revision=revision)
    except Exception as error:  # the hub, its cache and the loading script can fail in many ways
        detail = _one_line(f"{type(error).__name__}: {error}")
        if offline:
            raise UserError(f"cannot reach the Hugging Face hub to load dataset '{name}' split '{split}': offline "
                            f"mode is on (HF_HUB_OFFLINE) and the local cache cannot serve it ({detail}); "
                            f"{LOCAL_ADVICE}") from None
        raise UserError(f"cannot load dataset '{name}' split '{split}' ({detail}); {LOCAL_ADVICE}") from None
    return [dict(row) for row in table]


def _one_line(value: object, limit: int = 300) -> str:
    """``value`` as one line of at most ``limit`` characters, for error messages."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
