"""Where data comes from: local files and folders, built-in sets, or the Hugging Face hub."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

from mirror_neuron import registry
from mirror_neuron.errors import UserError

FORMATS = (".jsonl", ".json", ".csv", ".parquet")
BUILTIN_PREFIX = "builtin:"
DEFAULT_ENDPOINT = "https://huggingface.co"
HUB_TIMEOUT_S = 5
HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}
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
    """Supported files of ``folder`` that belong to ``split``.

    A file belongs to a split when the split's name is one of the words of its file name
    (``NQ-open.dev.jsonl`` is in ``dev``). When the schema names a single split and no file
    name mentions it, every supported file belongs to it.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and data_format(p))
    matching = [p for p in files if split.lower() in re.split(r"[^a-z0-9]+", p.name.lower())]
    if not matching and only_split:
        return files
    return matching


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of one local file, as dicts. Malformed content is a :class:`UserError`."""
    kind = data_format(path)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise UserError(f"{path}: not a valid gzip file ({error})") from None
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
