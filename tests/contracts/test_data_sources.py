"""Every source the data step reads gives the canonical columns: each file format it accepts (plain or
gzipped), written from real GSM8K records, and each real data set beside the project, read through the
runner with only a few rows kept."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mirror_neuron import registry
from mirror_neuron.steps.data import sources
from mirror_neuron.steps.data.schema import split_dialogue
from tests.conftest import SHARED_DATA
from tests.fixtures.runs import run_config

ROWS = 10
EXPERIMENT = "experiment: {name: sources, seed: 0}\ntracking: {backend: none}\n"
Record = dict[str, Any]


def load(folder: Path, entry: str) -> pd.DataFrame:
    """The ``data`` table of a config holding one data entry (``entry``: its keys, indented two spaces)."""
    return run_config(folder, f"{EXPERIMENT}data:\n  id: d\n{entry}").output.table()


def read_jsonl(path: Path, n: int = ROWS) -> list[Record]:
    """The first ``n`` records of a (gzipped) JSONL file, read without the code under test."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(next(handle)) for _ in range(n)]


def write(records: list[Record], path: Path) -> None:
    """``records`` in the format ``path``'s name says (``.gz`` compresses it)."""
    plain = path.with_name(path.name.removesuffix(".gz"))
    frame = pd.DataFrame(records)
    if plain.suffix == ".jsonl":
        plain.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif plain.suffix == ".json":
        plain.write_text(json.dumps(records))
    elif plain.suffix == ".csv":
        frame.to_csv(plain, index=False)
    elif plain.suffix == ".parquet":
        frame.to_parquet(plain, index=False)
    else:
        raise AssertionError(f"no writer for {plain.suffix}: add one for the new format")
    if path != plain:
        path.write_bytes(gzip.compress(plain.read_bytes()))
        plain.unlink()


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("suffix", sources.FORMATS)
def test_every_file_format_gives_the_canonical_columns(suffix: str, compressed: bool, tmp_path: Path) -> None:
    records = read_jsonl(SHARED_DATA / "gsm8k/test.jsonl", 15)
    name = f"gsm8k{suffix}{'.gz' if compressed else ''}"
    write(records, tmp_path / name)
    assert sources.data_format(tmp_path / name) == suffix
    table = load(tmp_path / "run", f"  path: {tmp_path / name}\n  sample: {{method: first, n: {ROWS}}}\n")
    assert list(table.columns) == ["row_id", "split", "question", "answer"]
    assert table["row_id"].tolist() == [f"all/{name}#{i}" for i in range(ROWS)]
    assert table["question"].tolist() == [r["question"] for r in records[:ROWS]]
    assert table["answer"].tolist() == [r["answer"] for r in records[:ROWS]]


@dataclass(frozen=True)
class RealSet:
    """A real data set, the data entry that reads it, and the canonical table it must give."""

    name: str
    entry: str
    columns: tuple[str, ...]
    expected: Callable[[], dict[str, list[Any]]]  # the first rows' canonical values, read independently


def _nq() -> dict[str, list[Any]]:
    records = read_jsonl(SHARED_DATA / "nq_open/NQ-open.dev.jsonl")
    return {"question": [r["question"] for r in records], "answer": [r["answer"][0] for r in records]}


def _squad() -> dict[str, list[Any]]:
    records = read_jsonl(SHARED_DATA / "squad_v2_dev_subset/squad_v2_dev_normans_rhine.jsonl")
    return {"question": [r["question"] for r in records], "context": [r["context"] for r in records],
            "answer": [r["answers"]["text"][0] if r["answers"]["text"] else None for r in records]}


def _hh() -> dict[str, list[Any]]:
    records = read_jsonl(SHARED_DATA / "hh_rlhf/harmless-base.test.jsonl.gz")  # the first file by name
    return {"prompt": [split_dialogue(r["chosen"])[0] for r in records],
            "chosen": [split_dialogue(r["chosen"])[1] for r in records],
            "rejected": [split_dialogue(r["rejected"])[1] for r in records]}


def _gsm8k() -> dict[str, list[Any]]:
    records = read_jsonl(SHARED_DATA / "gsm8k/test.jsonl")
    return {"question": [r["question"] for r in records], "answer": [r["answer"] for r in records]}


def _events() -> dict[str, list[Any]]:
    import pyarrow.parquet as pq

    events = pq.read_table(SHARED_DATA / "sn1_openvalidators/events.2023-08-06.part1.parquet",
                           columns=["prompt", "best"]).slice(0, ROWS).to_pylist()
    return {"question": [e["prompt"] for e in events], "answer": [e["best"] for e in events]}


def _builtin() -> dict[str, list[Any]]:
    path = sources.builtin_path("prompts")
    assert registry.get("dataset", "prompts").target == path.name
    records = read_jsonl(path)
    return {key: [r[key] for r in records] for key in ("question", "answer", "context")}


REAL_SETS = [
    RealSet("nq_open", f"  path: {SHARED_DATA / 'nq_open/NQ-open.dev.jsonl'}\n"
                       "  schema: {dev: {question: question, answer: answer}}\n", ("question", "answer"), _nq),
    RealSet("squad_v2", f"  path: {SHARED_DATA / 'squad_v2_dev_subset'}\n  schema:\n"
                        "    dev: {question: question, answer: answers.text, context: context}\n",
            ("question", "answer", "context"), _squad),
    RealSet("hh_rlhf", f"  path: {SHARED_DATA / 'hh_rlhf'}\n"
                       "  schema: {test: {chosen: chosen, rejected: rejected}}\n  dialogue: hh\n",
            ("prompt", "chosen", "rejected"), _hh),
    RealSet("gsm8k", f"  path: {SHARED_DATA / 'gsm8k/test.jsonl'}\n", ("question", "answer"), _gsm8k),
    RealSet("sn1_events", f"  path: {SHARED_DATA / 'sn1_openvalidators/events.2023-08-06.part1.parquet'}\n"
                          "  schema: {all: {question: prompt, answer: best}}\n", ("question", "answer"), _events),
    RealSet("builtin_prompts", "  path: builtin:prompts\n", ("question", "answer", "context"), _builtin),
]


@pytest.mark.parametrize("real", REAL_SETS, ids=lambda r: r.name)
def test_every_real_data_set_gives_the_canonical_columns(real: RealSet, tmp_path: Path) -> None:
    table = load(tmp_path, f"{real.entry}  sample: {{method: first, n: {ROWS}}}\n")
    assert list(table.columns) == ["row_id", "split", *real.columns]
    assert len(table) == ROWS and table["row_id"].is_unique
    for column, values in real.expected().items():
        got = [None if isinstance(v, float) and v != v else v for v in table[column].tolist()]
        assert got == values, column
