"""The data step through the real runner, on every real data set beside the project."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.errors import ConfigError
from mirror_neuron.runner import RunOptions, run_experiment


def run_data(tmp_path: Path, body: str, name: str = "c.yml") -> pd.DataFrame:
    """Run a config holding one data entry (``body``) and return its stored table."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / name
    config.write_text("experiment: {name: t, seed: 5}\ntracking: {backend: none}\ndata:\n  id: d\n" + body)
    result = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))
    return result.records[-1].output.table()


def test_nq_open_dev(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data}/nq_open/NQ-open.dev.jsonl
  schema:
    dev:
      question: question
      answer: answer
""")
    assert len(table) == 3610
    assert list(table.columns) == ["row_id", "split", "question", "answer"]
    first = json.loads((shared_data / "nq_open/NQ-open.dev.jsonl").read_text().splitlines()[0])
    assert table.loc[0, "question"] == first["question"] and table.loc[0, "answer"] == first["answer"][0]
    assert table.loc[0, "row_id"] == "dev/NQ-open.dev.jsonl#0" and table["row_id"].is_unique


def test_nq_open_folder_all_answers(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data}/nq_open
  schema:
    dev:
      question: question
      answer: {{field: answer, take: all}}
""")
    assert len(table) == 3610 + 1800
    assert (table["row_id"].str.contains("efficientqa")).sum() == 1800
    assert all(len(answers) >= 1 for answers in table["answer"])


def test_squad_v2_nested_answers(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data}/squad_v2_dev_subset
  schema:
    dev:
      question: question
      answer: answers.text
      context: context
""")
    assert len(table) == 706
    assert table["answer"].isna().sum() == 320 and table["answer"].notna().sum() == 386
    assert table["context"].str.len().min() > 100
    assert table.loc[0, "answer"] == "France"


def test_hh_rlhf_gzipped_pairs_split_into_prompt_and_answers(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data}/hh_rlhf
  schema:
    test: {{chosen: chosen, rejected: rejected}}
  dialogue: hh
""")
    assert len(table) == 2354 + 2312
    assert set(table["split"]) == {"test"}
    assert table["prompt"].str.endswith("Assistant:").all()
    with gzip.open(shared_data / "hh_rlhf/harmless-base.test.jsonl.gz", "rt") as handle:
        original = json.loads(handle.readline())
    first = table[table["row_id"] == "test/harmless-base.test.jsonl.gz#0"].iloc[0]
    assert first["prompt"] + first["chosen"] == original["chosen"]
    assert first["prompt"] + first["rejected"] == original["rejected"]


def test_gsm8k(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data}/gsm8k/test.jsonl\n")  # no schema: same-named fields
    assert len(table) == 1319
    assert table["answer"].str.contains("####").all() and set(table["split"]) == {"all"}


def test_the_original_loose_shapes_load(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data}/nq_open/NQ-open.dev.jsonl
  schema:
    train:
      - row:
        question: question
        answer: answer
  sample: default
""")
    assert len(table) == 3610 and list(table.columns) == ["row_id", "split", "question", "answer"]


def test_the_builtin_prompt_set(tmp_path: Path) -> None:
    table = run_data(tmp_path, "  path: builtin:prompts\n")
    assert len(table) >= 40
    assert table[["question", "answer", "context"]].notna().all().all()


@pytest.mark.parametrize("method", ["first", "random"])
def test_sampling_is_deterministic(tmp_path: Path, shared_data: Path, method: str) -> None:
    body = f"  path: {shared_data}/gsm8k/test.jsonl\n  sample: {{method: {method}, n: 50, seed: SEED}}\n"
    one = run_data(tmp_path / "a", body.replace("SEED", "1"))
    again = run_data(tmp_path / "b", body.replace("SEED", "1"))
    other = run_data(tmp_path / "c", body.replace("SEED", "2"))
    assert len(one) == 50
    pd.testing.assert_frame_equal(one, again)
    indices = one["row_id"].str.split("#").str[1].astype(int).tolist()
    assert indices == sorted(indices)  # source order kept
    if method == "first":
        assert indices == list(range(50)) and one.equals(other)
    else:
        assert set(indices) != set(other["row_id"].str.split("#").str[1].astype(int))


def test_small_chunks_give_the_same_table(tmp_path: Path, shared_data: Path) -> None:
    body = f"  path: {shared_data}/squad_v2_dev_subset\n  schema: {{dev: {{question: question, answer: answers.text}}}}\n"
    whole = run_data(tmp_path, body)
    chunked = run_data(tmp_path, body + "  chunk_rows: 100\n", name="chunked.yml")
    pd.testing.assert_frame_equal(whole, chunked)


def test_a_missing_field_names_the_schema_key(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError) as error:
        run_data(tmp_path, f"""  path: {shared_data}/nq_open/NQ-open.dev.jsonl
  schema:
    dev:
      question: questoin
""")
    message = str(error.value)
    assert "c.yml: data.schema.dev.question (line 8): no record has the field 'questoin'" in message
    assert "did you mean 'question'" in message and "fields: answer, question" in message
    assert not list((tmp_path / "store").glob("*.partial"))  # nothing half-written
