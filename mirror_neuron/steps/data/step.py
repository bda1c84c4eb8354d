"""``entrypoint: Dataset``: load, map to canonical columns, sample, store as one Parquet table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from mirror_neuron.errors import ConfigError, UserError, did_you_mean
from mirror_neuron.hashing import source_sha256
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.data import sources
from mirror_neuron.steps.data.schema import ASSISTANT_TURN, MISSING, Canonical, FieldSpec, extract, to_canonical_hh
from mirror_neuron.store import ChunkWriter, StepOutput

CANONICAL_ORDER = ("question", "answer", "context", "prompt", "chosen", "rejected")
UNSPLIT = "all"
FIELD_SCAN = 1000  # records scanned for field names (error messages, schema-less mapping)

# (name in row ids, e.g. "NQ-open.dev.jsonl" or "helpful-base/test.jsonl.gz"; the file)
SourceFile = tuple[str, Path]


class SampleConfig(BaseModel):
    """Which rows to keep: the ``first`` n, a seeded ``random`` n (kept in source order), or ``all``."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["first", "random", "all"] = "all"
    n: PositiveInt | None = None
    seed: Seed | None = None  # defaults to experiment.seed

    @model_validator(mode="after")
    def _n_given(self) -> SampleConfig:
        if self.method != "all" and self.n is None:
            raise ValueError(f"sample.method '{self.method}' needs n")
        return self


class DatasetConfig(StepConfig):
    """A data entry. ``schema`` maps, per split, canonical columns to source fields."""

    path: str
    schema_: dict[str, dict[Canonical, str | FieldSpec]] | None = Field(None, alias="schema")
    sample: SampleConfig = SampleConfig()
    dialogue: Literal["none", "hh"] = "none"  # hh: split HH-RLHF chosen/rejected dialogues
    revision: str | None = None  # hub datasets only
    chunk_rows: PositiveInt = 10_000

    @classmethod
    def normalize(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Accept the original tool's ``- row:`` lists under a split and ``sample: default``."""
        raw = dict(raw)
        if raw.get("sample") in ("default", None):
            raw.pop("sample", None)
        schema = raw.get("schema")
        if isinstance(schema, dict):
            raw["schema"] = {split: _merge_rows(columns) for split, columns in schema.items()}
        return raw


def _merge_rows(columns: Any) -> Any:
    """``[{row: None, question: q}]`` or ``[{row: {question: q}}]`` -> ``{question: q}``."""
    if not isinstance(columns, list) or not all(isinstance(item, dict) for item in columns):
        return columns
    merged: dict[str, Any] = {}
    for item in columns:
        item = dict(item)
        row = item.pop("row", None)
        merged.update(row if isinstance(row, dict) else {})
        merged.update(item)
    return merged


@component("data", "Dataset",
           summary="load, map and sample prompts or preference pairs from local files, built-ins or the HF hub")
class DatasetStep(Step):
    section = "data"
    config_class = DatasetConfig
    config: DatasetConfig

    def resolve(self) -> dict[str, Any]:
        resolved = super().resolve()
        # The seed only matters to random sampling; leaving it out otherwise keeps a changed
        # experiment seed from invalidating stored first/all samples.
        resolved["sample"]["seed"] = self._seed if self.config.sample.method == "random" else None
        self._files = self._locate()
        if self._files is not None:
            for files in self._files.values():
                for _, file in files:
                    try:
                        sources.check_size(file)
                    except UserError as error:
                        raise ConfigError(error.message, self.context.where("path")) from None
            resolved["source_files"] = {
                split: [{"name": name, "sha256": source_sha256(f)} for name, f in files]
                for split, files in self._files.items()
            }
        return resolved

    @property
    def _seed(self) -> int:
        return self.config.sample.seed if self.config.sample.seed is not None else self.context.seed

    def _splits(self) -> list[str]:
        return list(self.config.schema_) if self.config.schema_ else [UNSPLIT]

    def _locate(self) -> dict[str, list[SourceFile]] | None:
        """Local files per split, or ``None`` for a hub dataset."""
        text = self.config.path
        if text.startswith(sources.BUILTIN_PREFIX):
            try:
                path = sources.builtin_path(text[len(sources.BUILTIN_PREFIX):])
            except Exception as error:
                raise ConfigError(getattr(error, "message", str(error)), self.context.where("path")) from None
        else:
            path = (self.context.config_dir / Path(text).expanduser()).resolve()
            if not path.exists():
                if sources.looks_local(text) or not sources.is_hub_name(text):
                    raise ConfigError(f"no such file or folder: {path}", self.context.where("path"))
                return None
            try:
                sources.check_local(path)
            except UserError as error:
                raise ConfigError(error.message, self.context.where("path")) from None
        splits = self._splits()
        if path.is_file():
            if len(splits) > 1:
                raise ConfigError(f"a single file holds one split but the schema names {len(splits)} "
                                  f"({', '.join(splits)}); point path at a folder whose file names name the splits",
                                  self.context.where("schema"))
            if sources.data_format(path) is None:
                raise ConfigError(f"unsupported file type '{path.name}'; use .jsonl, .json, .csv or .parquet "
                                  "(optionally .gz)", self.context.where("path"))
            return {splits[0]: [(path.name, path)]}
        located = {}
        for split in splits:
            try:
                files = sources.split_files(path, split, only_split=len(splits) == 1)
            except UserError as error:
                raise ConfigError(error.message, self.context.where("path")) from None
            if not files:
                raise ConfigError(f"no .jsonl/.json/.csv/.parquet file in {path} has '{split}' in its name",
                                  self._where_split(split))
            # Files in subfolders (the official hh-rlhf layout has helpful-base/test.jsonl.gz and
            # harmless-base/test.jsonl.gz) are named by their relative path, so row ids stay unique.
            located[split] = [(f.relative_to(path).as_posix(), f) for f in files]
        return located

    def _where_split(self, split: str) -> str:
        """Where to point an error about one split: its schema key, or ``path`` when there is no schema."""
        return self.context.where("schema", split) if self.config.schema_ else self.context.where("path")

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        import pyarrow as pa

        rows, schema = self.__dict__.pop("_loaded", None) or self._load_rows()
        available = len(rows)
        rows = self._sample(rows)
        size = self.config.chunk_rows
        for start in range(writer.completed * size, len(rows), size):
            # One explicit schema for every chunk: a chunk of only nulls or empty lists still has
            # the types of the others, so the merged table is the same however it was chunked.
            writer.write(data=pa.Table.from_pylist(rows[start:start + size], schema=schema))
        return {"rows": len(rows), "rows_available": available}

    def preflight(self, stored: dict[str, StepOutput]) -> None:
        """Read and map the rows now (kept for :meth:`run`): a schema field no record has, a row that is
        not text, an HH dialogue without an answer are found before tracking starts."""
        self._loaded = self._load_rows()

    def _load_rows(self) -> tuple[list[dict[str, Any]], Any]:
        """All mapped rows, in split then file then record order, and their Arrow schema."""
        import pyarrow as pa

        if not hasattr(self, "_files"):
            self._files = self._locate()
        files = self._files
        rows: list[dict[str, Any]] = []
        columns: dict[str, Any] = {}
        for split in self._splits():
            if files is None:
                hub_split = "train" if split == UNSPLIT else split
                batches = [(self.config.path, sources.load_hub(self.config.path, hub_split, self.config.revision))]
            else:
                batches = [(name, sources.read_records(f)) for name, f in files[split]]
            records = [record for _, batch in batches for record in batch]
            if not records:
                shown = ", ".join(name for name, _ in batches)
                raise ConfigError(f"split '{split}' has no records ({shown})", self._where_split(split))
            mapping = self._mapping(split, records)
            for column, spec in mapping.items():
                columns[column] = pa.list_(pa.string()) if spec.take == "all" else pa.string()
            for source_name, batch in batches:
                rows.extend(self._map(split, source_name, batch, mapping))
        if self.config.dialogue == "hh":
            columns.update(prompt=pa.string(), chosen=pa.string(), rejected=pa.string())
        order = [c for c in CANONICAL_ORDER if c in columns]
        schema = pa.schema([("row_id", pa.string()), ("split", pa.string())] + [(c, columns[c]) for c in order])
        return rows, schema

    def _map(self, split: str, source_name: str, records: list[dict[str, Any]],
             mapping: dict[str, FieldSpec]) -> list[dict[str, Any]]:
        """Each record as a canonical row of text. A value that is not text (binary data, JSON's NaN or
        Infinity) and an HH dialogue without an Assistant turn are errors naming the row and field."""
        nan_is_missing = sources.data_format(Path(source_name)) not in (".json", ".jsonl")  # Parquet/CSV gaps
        rows = []
        for index, record in enumerate(records):
            row: dict[str, Any] = {"row_id": f"{split}/{source_name}#{index}", "split": split}
            for column, spec in mapping.items():
                value = extract(record, spec)
                try:
                    row[column] = None if value is MISSING else _as_text(value, spec.take == "all", nan_is_missing)
                except ValueError as error:
                    raise ConfigError(f"row {row['row_id']}: field '{spec.field}' {error}",
                                      self._where_column(split, column)) from None
            if self.config.dialogue == "hh":
                for column in ("chosen", "rejected"):
                    if ASSISTANT_TURN not in (row.get(column) or ""):
                        raise ConfigError(f"row {row['row_id']}: the {column} dialogue has no Assistant turn "
                                          f"({ASSISTANT_TURN.strip()!r}), so it has no answer to score",
                                          self._where_column(split, column))
                row = to_canonical_hh(row)
            rows.append(row)
        return rows

    def _where_column(self, split: str, column: str) -> str:
        """Where the schema maps ``column`` (the data entry's path when it has no schema)."""
        return self.context.where("schema", split, column) if self.config.schema_ else self.context.where("path")

    def _mapping(self, split: str, records: list[dict[str, Any]]) -> dict[str, FieldSpec]:
        """The split's column specs, checked against the records' fields."""
        fields = _field_names(records[:FIELD_SCAN])
        if not self.config.schema_:
            mapping = {c: FieldSpec(field=c) for c in CANONICAL_ORDER if c in fields}
            if not mapping:
                raise ConfigError(f"the records have none of the columns {', '.join(CANONICAL_ORDER)}; add a "
                                  f"schema mapping them to fields ({', '.join(fields)})", self.context.where("path"))
        else:
            mapping = {column: spec if isinstance(spec, FieldSpec) else FieldSpec(field=spec)
                       for column, spec in self.config.schema_[split].items()}
            for column, spec in mapping.items():
                if all(extract(record, spec) is MISSING for record in records):
                    hint = did_you_mean(spec.field, fields)
                    raise ConfigError(f"no record has the field '{spec.field}'{hint}; fields: {', '.join(fields)}",
                                      self.context.where("schema", split, column))
        if self.config.dialogue == "hh" and (not {"chosen", "rejected"} <= set(mapping) or
                                             "all" in (mapping["chosen"].take, mapping["rejected"].take)):
            raise ConfigError("dialogue: hh needs the schema to map 'chosen' and 'rejected' (each to one text, "
                              "not take: all)", self.context.where("dialogue"))
        return mapping

    def _sample(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sample = self.config.sample
        if sample.method == "all" or sample.n is None or sample.n >= len(rows):
            return rows
        if sample.method == "first":
            return rows[: sample.n]
        import numpy as np

        chosen = np.random.default_rng(self._seed).choice(len(rows), size=sample.n, replace=False)
        return [rows[i] for i in sorted(chosen)]


def _field_names(records: list[dict[str, Any]]) -> list[str]:
    """Top-level field names and dotted paths into nested mappings (``answers.text``), sorted."""
    names: set[str] = set()

    def walk(value: dict[str, Any], prefix: str, depth: int) -> None:
        for key, inner in value.items():
            names.add(prefix + str(key))
            if isinstance(inner, dict) and depth < 3:
                walk(inner, f"{prefix}{key}.", depth + 1)

    for record in records:
        walk(record, "", 0)
    return sorted(names)


def _as_text(value: Any, as_list: bool, nan_is_missing: bool = True) -> Any:
    """A canonical column value as text: ``None``, a string, or (``as_list``, for ``take: all``) a list of them.

    Sources are loosely typed (an answer may be ``42`` in one record and ``"forty"`` in the next);
    one text type per column keeps every chunk's table alike. Binary data, infinities and (unless
    ``nan_is_missing``: a Parquet or CSV gap) NaN are a :class:`ValueError`: no text stands for them.
    """
    if as_list and isinstance(value, list):
        return [_text(item, nan_is_missing) for item in value]
    return _text(value, nan_is_missing)


def _text(value: Any, nan_is_missing: bool = True) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError(f"holds binary data ({len(bytes(value))} bytes), not text; decode the column first")
    if isinstance(value, float) and value != value:
        if nan_is_missing:  # a gap in a numeric Parquet or CSV column
            return None
        raise ValueError("is NaN, not text")
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise ValueError(f"is {'-' if value < 0 else ''}Infinity, not text")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
