"""``entrypoint: Dataset``: load, map to canonical columns, sample, store as one Parquet table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from mirror_neuron.errors import ConfigError
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.data import sources
from mirror_neuron.steps.data.schema import MISSING, Canonical, FieldSpec, extract, to_canonical_hh
from mirror_neuron.store import ChunkWriter, StepOutput, sha256_file

CANONICAL_ORDER = ("question", "answer", "context", "prompt", "chosen", "rejected")
UNSPLIT = "all"


class SampleConfig(BaseModel):
    """Which rows to keep: the ``first`` n, a seeded ``random`` n (kept in source order), or ``all``."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["first", "random", "all"] = "all"
    n: PositiveInt | None = None
    seed: int | None = None  # defaults to experiment.seed

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


class DatasetStep(Step):
    section = "data"
    config_class = DatasetConfig
    config: DatasetConfig

    def resolve(self) -> dict[str, Any]:
        resolved = super().resolve()
        resolved["sample"]["seed"] = self._seed
        self._files = self._locate()
        if self._files is not None:
            resolved["source_files"] = {
                split: [{"name": f.name, "sha256": sha256_file(f)} for f in files]
                for split, files in self._files.items()
            }
        return resolved

    @property
    def _seed(self) -> int:
        return self.config.sample.seed if self.config.sample.seed is not None else self.context.seed

    def _splits(self) -> list[str]:
        return list(self.config.schema_) if self.config.schema_ else [UNSPLIT]

    def _locate(self) -> dict[str, list[Path]] | None:
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
                if sources.looks_local(text):
                    raise ConfigError(f"no such file or folder: {path}", self.context.where("path"))
                return None
        splits = self._splits()
        if path.is_file():
            if len(splits) > 1:
                raise ConfigError(f"a single file holds one split but the schema names {len(splits)} "
                                  f"({', '.join(splits)}); point path at a folder whose file names name the splits",
                                  self.context.where("schema"))
            if sources.data_format(path) is None:
                raise ConfigError(f"unsupported file type '{path.name}'; use .jsonl, .json, .csv or .parquet "
                                  "(optionally .gz)", self.context.where("path"))
            return {splits[0]: [path]}
        located = {}
        for split in splits:
            files = sources.split_files(path, split, only_split=len(splits) == 1)
            if not files:
                raise ConfigError(f"no .jsonl/.json/.csv/.parquet file in {path} has '{split}' in its name",
                                  self.context.where("schema", split) if self.config.schema_ else self.context.where("path"))
            located[split] = files
        return located

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        import pandas as pd

        rows = self._load_rows()
        available = len(rows)
        rows = self._sample(rows)
        size = self.config.chunk_rows
        for start in range(writer.completed * size, len(rows), size):
            writer.write(data=pd.DataFrame(rows[start:start + size]))
        return {"rows": len(rows), "rows_available": available}

    def _load_rows(self) -> list[dict[str, Any]]:
        files = getattr(self, "_files", None)
        if files is None and not self.config.path.startswith(sources.BUILTIN_PREFIX):
            files = self._locate()
        rows: list[dict[str, Any]] = []
        for split in self._splits():
            if files is None:
                hub_split = "train" if split == UNSPLIT else split
                batches = [(self.config.path, sources.load_hub(self.config.path, hub_split, self.config.revision))]
            else:
                batches = [(f.name, sources.read_records(f)) for f in files[split]]
            for source_name, records in batches:
                rows.extend(self._map(split, source_name, records))
        return rows

    def _map(self, split: str, source_name: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        mapping = self._mapping(split, records)
        rows = []
        for index, record in enumerate(records):
            row: dict[str, Any] = {"row_id": f"{split}/{source_name}#{index}", "split": split}
            for column, spec in mapping.items():
                value = extract(record, spec)
                row[column] = None if value is MISSING else value
            rows.append(to_canonical_hh(row) if self.config.dialogue == "hh" else row)
        return rows

    def _mapping(self, split: str, records: list[dict[str, Any]]) -> dict[str, FieldSpec]:
        """The split's column specs, checked against the records' fields."""
        fields = sorted({key for record in records[:1000] for key in record})
        if not self.config.schema_:
            mapping = {c: FieldSpec(field=c) for c in CANONICAL_ORDER if c in fields}
            if not mapping:
                raise ConfigError(f"the records have none of the columns {', '.join(CANONICAL_ORDER)}; add a "
                                  f"schema mapping them to fields ({', '.join(fields)})", self.context.where("path"))
            return mapping
        mapping = {column: spec if isinstance(spec, FieldSpec) else FieldSpec(field=spec)
                   for column, spec in self.config.schema_[split].items()}
        for column, spec in mapping.items():
            if records and all(extract(record, spec) is MISSING for record in records):
                from mirror_neuron.errors import did_you_mean

                hint = did_you_mean(spec.field.split(".")[0], fields)
                raise ConfigError(f"no record has the field '{spec.field}'{hint}; fields: {', '.join(fields)}",
                                  self.context.where("schema", split, column))
        if self.config.dialogue == "hh" and not {"chosen", "rejected"} <= set(mapping):
            raise ConfigError("dialogue: hh needs the schema to map 'chosen' and 'rejected'",
                              self.context.where("dialogue"))
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
