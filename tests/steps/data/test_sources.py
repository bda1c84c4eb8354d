"""Reading local files in every supported format, picking folder files by split, and the unreachable hub."""

from __future__ import annotations

import gzip
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import UserError
from mirror_neuron.steps.data import sources
from mirror_neuron.steps.data.sources import data_format, load_hub, looks_local, read_records, split_files

RECORDS = [{"question": "a?", "answer": "A"}, {"question": "b?", "answer": "B"}]


def _write_all_formats(folder: Path) -> list[Path]:
    """The same two records as .jsonl, .json (list and {"data": ...}), .csv and .parquet, each also gzipped."""
    jsonl = "".join(json.dumps(r) + "\n" for r in RECORDS).encode()
    files = {
        "x.jsonl": jsonl,
        "x.json": json.dumps(RECORDS).encode(),
        "y.json": json.dumps({"version": "1", "data": RECORDS}).encode(),
        "x.csv": pd.DataFrame(RECORDS).to_csv(index=False).encode(),
    }
    pd.DataFrame(RECORDS).to_parquet(folder / "x.parquet")
    files["x.parquet"] = (folder / "x.parquet").read_bytes()
    paths = []
    for name, content in files.items():
        (folder / name).write_bytes(content)
        (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        paths += [folder / name, folder / f"{name}.gz"]
    return paths


def test_every_format_reads_the_same_records(tmp_path: Path) -> None:
    """Ten files, five formats, plain and gzipped: all give the same records."""
    paths = _write_all_formats(tmp_path)
    assert len(paths) == 10
    for path in paths:
        assert read_records(path) == RECORDS, path.name


def test_real_gzipped_jsonl_reads_every_record(shared_data: Path) -> None:
    records = read_records(shared_data / "hh_rlhf" / "helpful-base.test.jsonl.gz")
    assert len(records) == 2354
    assert set(records[0]) == {"chosen", "rejected"} and records[0]["chosen"].startswith("\n\nHuman:")


def test_real_jsonl_keeps_nested_fields(shared_data: Path) -> None:
    records = read_records(shared_data / "squad_v2_dev_subset" / "squad_v2_dev_normans_rhine.jsonl")
    assert len(records) == 706
    assert records[0]["answers"]["text"][0] == "France" and records[0]["is_impossible"] is False


def test_data_format_and_looks_local() -> None:
    assert data_format(Path("NQ-open.dev.jsonl")) == ".jsonl"
    assert data_format(Path("test.jsonl.gz")) == ".jsonl"
    assert data_format(Path("x.parquet.gz")) == ".parquet"
    assert data_format(Path("notes.txt")) is None and data_format(Path("x.gz")) is None
    assert looks_local("./data") and looks_local("~/x") and looks_local("q.csv") and looks_local("/abs")
    assert not looks_local("nq_open") and not looks_local("google-research-datasets/nq_open")


def test_csv_cells_are_read_as_written(tmp_path: Path) -> None:
    """Numbers in a CSV stay text ("007", "1.50"), empty cells stay "", and a UTF-8 BOM is dropped."""
    path = tmp_path / "q.csv"
    path.write_bytes("\ufeffquestion,answer,context\nbond?,007,\nprice?,1.50,shop\n".encode())
    assert read_records(path) == [{"question": "bond?", "answer": "007", "context": ""},
                                  {"question": "price?", "answer": "1.50", "context": "shop"}]


def test_jsonl_lines_are_split_on_newlines_only(tmp_path: Path) -> None:
    """Unescaped U+2028 / U+0085 inside a JSON string are text, not line breaks; blank lines are skipped."""
    path = tmp_path / "odd.jsonl"
    text = '{"question": "line\u2028separator", "answer": "next\u0085line"}\r\n\n{"question": "b", "answer": "c"}\n'
    path.write_text(text, encoding="utf-8")
    assert read_records(path) == [{"question": "line\u2028separator", "answer": "next\u0085line"},
                                  {"question": "b", "answer": "c"}]


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a"}\n\n{"question": oops}\n')
    with pytest.raises(UserError, match=r"bad\.jsonl: line 3: invalid JSON") as error:
        read_records(bad)
    assert str(bad) in str(error.value)
    gz = tmp_path / "bad.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n[1, 2]\n'))
    with pytest.raises(UserError, match=r"bad\.jsonl\.gz: line 2: expected a JSON object per line"):
        read_records(gz)


def test_other_malformed_files_are_user_errors(tmp_path: Path) -> None:
    cases = {
        "fake.jsonl.gz": (b"plain text", "not a valid gzip file"),
        "bad.json": (b'[{"a": 1},\n {"a": }]', r"bad\.json: line 2: invalid JSON"),
        "scalars.json": (b"[1, 2]", "expected a JSON list of objects"),
        "latin1.jsonl": ('{"a": "caf\u00e9"}\n'.encode("latin-1"), r"latin1\.jsonl: line 1: not valid UTF-8"),
        "broken.parquet": (b"PAR1 not really", r"broken\.parquet: cannot read as \.parquet"),
        "notes.txt": (b"hello", "unsupported file type"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UserError, match=message):
            read_records(tmp_path / name)


def test_hh_rlhf_folder_split_test_has_both_gzipped_files(shared_data: Path) -> None:
    files = split_files(shared_data / "hh_rlhf", "test", only_split=False)
    assert [p.name for p in files] == ["harmless-base.test.jsonl.gz", "helpful-base.test.jsonl.gz"]


def test_nq_open_folder_split_dev_has_both_files(shared_data: Path) -> None:
    files = split_files(shared_data / "nq_open", "dev", only_split=False)
    assert [p.name for p in files] == ["NQ-open.dev.jsonl", "NQ-open.efficientqa.dev.1.1.jsonl"]
    assert split_files(shared_data / "nq_open", "DEV", only_split=False) == files  # case-insensitive


def test_a_split_no_file_names(shared_data: Path) -> None:
    """No file is 'train': none when the schema has several splits, every file when it has only this one."""
    assert split_files(shared_data / "nq_open", "train", only_split=False) == []
    assert len(split_files(shared_data / "nq_open", "train", only_split=True)) == 2
    assert [p.name for p in split_files(shared_data / "gsm8k", "validation", only_split=True)] == ["test.jsonl"]


def test_split_words_are_whole_words(tmp_path: Path) -> None:
    """'test' matches test.jsonl and a-test-b.csv, not contest.jsonl, latest.json or unsupported files."""
    for name in ("test.jsonl", "a-test-b.csv", "contest.jsonl", "latest.json", "test.txt", "train.jsonl"):
        (tmp_path / name).write_text("")
    assert [p.name for p in split_files(tmp_path, "test", only_split=False)] == ["a-test-b.csv", "test.jsonl"]


def test_offline_hub_fails_fast_with_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With HF_HUB_OFFLINE=1 (set by the autouse fixture) and an empty cache: one line, hub unreachable, use a file."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network_call)
    start = time.monotonic()
    with pytest.raises(UserError) as error:
        load_hub("nq_open", "train", None)
    assert time.monotonic() - start < 20
    message = str(error.value)
    assert message.startswith("cannot reach the Hugging Face hub to load dataset 'nq_open'")
    assert "HF_HUB_OFFLINE" in message and "set data.path to a local" in message and "\n" not in message


@pytest.mark.parametrize("value", ["true", "YES", "on"])
def test_offline_mode_accepts_the_hubs_spellings(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub treats 1/true/yes/on as offline; so must the probe, or it would try the network."""
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert sources.hub_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not sources.hub_offline()


def test_no_network_fails_fast_before_datasets_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Online mode with no route to the hub: the short probe fails, and ``datasets`` is never called."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: connection refused
    monkeypatch.setitem(sys.modules, "datasets", None)  # importing it would raise ImportError
    start = time.monotonic()
    with pytest.raises(UserError) as error:
        load_hub("nq_open", "train", None)
    assert time.monotonic() - start < 20
    message = str(error.value)
    assert message.startswith("cannot reach the Hugging Face hub to load dataset 'nq_open' (")
    assert message.endswith("set data.path to a local .jsonl, .json, .csv or .parquet file or folder")
    assert "\n" not in message


def test_an_unknown_hub_dataset_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def not_found(url: str, timeout: float) -> None:
        assert url == "https://huggingface.co/api/datasets/nobody/nothing" and timeout <= 10
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(UserError, match="no dataset 'nobody/nothing' on the Hugging Face hub"):
        load_hub("nobody/nothing", "train", None)


def test_a_name_that_cannot_be_a_hub_dataset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A space would make urllib raise InvalidURL (a traceback); it is a UserError without any request."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", _no_network_call)
    with pytest.raises(UserError, match="neither a local file or folder nor a Hugging Face dataset name"):
        load_hub("my data", "train", None)
    assert sources.is_hub_name("nq_open") and sources.is_hub_name("rajpurkar/squad_v2")
    assert not sources.is_hub_name("a/b/c") and not sources.is_hub_name("my data")


def _no_network_call(*args: object, **kwargs: object) -> None:
    raise AssertionError("the hub must not be contacted here")
