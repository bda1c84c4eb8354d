"""Reading local files in every supported format, folders by split, and the unreachable hub."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.steps.data.sources import load_hub, read_records, split_files

RECORDS = [{"question": "a?", "answer": "A"}, {"question": "b?", "answer": "B"}]


def _write_all_formats(folder: Path) -> list[Path]:
    jsonl = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    files = {
        "x.jsonl": jsonl, "x.jsonl.gz": gzip.compress(jsonl),
        "x.json": json.dumps(RECORDS).encode(), "y.json": json.dumps({"data": RECORDS}).encode(),
        "x.csv": pd.DataFrame(RECORDS).to_csv(index=False).encode(),
    }
    files["x.csv.gz"] = gzip.compress(files["x.csv"])
    paths = []
    for name, content in files.items():
        (folder / name).write_bytes(content)
        paths.append(folder / name)
    pd.DataFrame(RECORDS).to_parquet(folder / "x.parquet")
    (folder / "x.parquet.gz").write_bytes(gzip.compress((folder / "x.parquet").read_bytes()))
    return paths + [folder / "x.parquet", folder / "x.parquet.gz"]


def test_every_format_reads_the_same_records(tmp_path: Path) -> None:
    for path in _write_all_formats(tmp_path):
        assert read_records(path) == RECORDS, path.name


def test_malformed_files_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a"}\n{"question": oops}\n')
    with pytest.raises(UserError, match=r"bad.jsonl: line 2: invalid JSON"):
        read_records(bad)
    not_gzip = tmp_path / "fake.jsonl.gz"
    not_gzip.write_text("plain")
    with pytest.raises(UserError, match="not a valid gzip file"):
        read_records(not_gzip)


def test_folders_split_by_file_name_words(shared_data: Path) -> None:
    hh = split_files(shared_data / "hh_rlhf", "test", only_split=True)
    assert [p.name for p in hh] == ["harmless-base.test.jsonl.gz", "helpful-base.test.jsonl.gz"]
    nq = split_files(shared_data / "nq_open", "dev", only_split=False)
    assert [p.name for p in nq] == ["NQ-open.dev.jsonl", "NQ-open.efficientqa.dev.1.1.jsonl"]
    assert split_files(shared_data / "nq_open", "train", only_split=False) == []
    assert len(split_files(shared_data / "gsm8k", "validation", only_split=True)) == 1  # the only split


def test_an_unreachable_hub_fails_fast_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.monotonic()
    with pytest.raises(UserError, match="cannot reach the Hugging Face hub to load dataset 'nq_open'") as error:
        load_hub("nq_open", "train", None)
    assert time.monotonic() - start < 30
    assert "set data.path to a local" in str(error.value)


def test_offline_hub_without_a_cached_copy_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(UserError, match="cannot load dataset 'nq_open'.*local file"):
        load_hub("nq_open", "train", None)
