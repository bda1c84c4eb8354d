"""The data step through the real runner, on every real data set beside the project."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.runner import RunOptions, RunResult, run_experiment
from mirror_neuron.store import ChunkWriter

NQ_DEV = "nq_open/NQ-open.dev.jsonl"
EFFICIENTQA_DEV = "nq_open/NQ-open.efficientqa.dev.1.1.jsonl"
SQUAD = "squad_v2_dev_subset/squad_v2_dev_normans_rhine.jsonl"
GSM8K = "gsm8k/test.jsonl"


def run(tmp_path: Path, body: str, name: str = "c.yml", seed: int = 5) -> RunResult:
    """Run a config holding one data entry ``d`` (``body``: its keys, indented two spaces)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / name
    config.write_text(f"experiment: {{name: t, seed: {seed}}}\ntracking: {{backend: none}}\ndata:\n  id: d\n" + body)
    return run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))


def run_data(tmp_path: Path, body: str, name: str = "c.yml", seed: int = 5) -> pd.DataFrame:
    """The stored ``data`` table of :func:`run`."""
    return run(tmp_path, body, name, seed).records[-1].output.table()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a real (optionally gzipped) JSONL file, read without the code under test."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def values(column: pd.Series) -> list[Any]:
    """A column as a list, with missing values as ``None`` (pandas reads null strings back as NaN)."""
    return [None if isinstance(v, float) and v != v else v for v in column.tolist()]


def indices(table: pd.DataFrame) -> list[int]:
    """The record index of each row, from its ``<split>/<file>#<index>`` row id."""
    return table["row_id"].str.rsplit("#", n=1).str[1].astype(int).tolist()


# --- every real data set -------------------------------------------------------------------------


def test_nq_open_dev_takes_the_first_answer(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / NQ_DEV}\n  schema:\n    dev:\n      question: question\n"
                               "      answer: answer\n")
    original = read_jsonl(shared_data / NQ_DEV)
    assert len(table) == len(original) == 3610
    assert list(table.columns) == ["row_id", "split", "question", "answer"]
    assert table["row_id"].tolist() == [f"dev/NQ-open.dev.jsonl#{i}" for i in range(3610)]
    assert set(table["split"]) == {"dev"}
    assert table["question"].tolist() == [r["question"] for r in original]
    assert table["answer"].tolist() == [r["answer"][0] for r in original]


def test_nq_open_dev_take_all_keeps_the_answer_list(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / NQ_DEV}\n  schema:\n    dev:\n      question: question\n"
                               "      answer: {field: answer, take: all}\n")
    original = read_jsonl(shared_data / NQ_DEV)
    assert len(table) == 3610
    assert [list(a) for a in table["answer"]] == [r["answer"] for r in original]
    assert any(len(a) > 1 for a in table["answer"])


def test_nq_open_join_answers(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / NQ_DEV}\n  schema:\n    dev:\n      question: question\n"
                               "      answer: {field: answer, take: join, sep: ' | '}\n")
    original = read_jsonl(shared_data / NQ_DEV)
    assert table["answer"].tolist() == [" | ".join(r["answer"]) for r in original]


def test_efficientqa_dev(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / EFFICIENTQA_DEV}\n  schema:\n    dev: {{question: question, "
                               "answer: answer}\n")
    assert len(table) == 1800
    assert table.loc[1799, "row_id"] == "dev/NQ-open.efficientqa.dev.1.1.jsonl#1799"
    assert table["answer"].map(lambda a: isinstance(a, str) and a != "").all()


def test_nq_open_folder_split_dev_reads_both_files(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / 'nq_open'}\n  schema:\n    dev: {{question: question, "
                               "answer: answer}\n")
    assert len(table) == 3610 + 1800
    assert table["row_id"].is_unique
    assert table["row_id"].str.startswith("dev/NQ-open.efficientqa.dev.1.1.jsonl#").sum() == 1800


def test_squad_v2_nested_answers(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data / 'squad_v2_dev_subset'}
  schema:
    dev:
      question: question
      answer: answers.text
      context: context
""")
    original = read_jsonl(shared_data / SQUAD)
    assert len(table) == 706
    assert list(table.columns) == ["row_id", "split", "question", "answer", "context"]
    unanswerable = table["answer"].isna()
    assert unanswerable.sum() == 320 and table["answer"].map(lambda a: isinstance(a, str)).sum() == 386
    assert unanswerable.tolist() == [r["is_impossible"] for r in original]
    assert values(table["answer"]) == [r["answers"]["text"][0] if r["answers"]["text"] else None for r in original]
    assert table["context"].tolist() == [r["context"] for r in original]
    assert table.loc[0, "answer"] == "France" and table["context"].str.len().min() > 100


def test_squad_v2_take_all_gives_empty_lists_for_unanswerable(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / SQUAD}\n  schema:\n    dev:\n      question: question\n"
                               "      answer: {field: answers.text, take: all}\n")
    lengths = table["answer"].map(len)
    assert (lengths == 0).sum() == 320 and (lengths > 0).sum() == 386


def test_hh_rlhf_gzipped_folder_splits_dialogues(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"""  path: {shared_data / 'hh_rlhf'}
  schema:
    test: {{chosen: chosen, rejected: rejected}}
  dialogue: hh
""")
    assert len(table) == 2354 + 2312 == 4666
    assert list(table.columns) == ["row_id", "split", "prompt", "chosen", "rejected"]
    assert set(table["split"]) == {"test"} and table["row_id"].is_unique
    original = read_jsonl(shared_data / "hh_rlhf/harmless-base.test.jsonl.gz") + \
        read_jsonl(shared_data / "hh_rlhf/helpful-base.test.jsonl.gz")
    assert table.loc[2312, "row_id"] == "test/helpful-base.test.jsonl.gz#0"
    assert table["prompt"].str.endswith("\n\nAssistant:").all()
    assert (table["prompt"] + table["chosen"]).tolist() == [r["chosen"] for r in original]
    assert all(r["rejected"].endswith(rejected) for r, rejected in zip(original, table["rejected"]))
    assert (table["chosen"] != table["rejected"]).mean() > 0.95


def test_hh_rlhf_official_layout_keeps_row_ids_unique(tmp_path: Path, shared_data: Path) -> None:
    """anthropics/hh-rlhf names both files test.jsonl.gz in their own folders; row ids must still differ."""
    layout = tmp_path / "hh-rlhf"
    for part in ("harmless-base", "helpful-base"):
        (layout / part).mkdir(parents=True)
        (layout / part / "test.jsonl.gz").symlink_to(shared_data / f"hh_rlhf/{part}.test.jsonl.gz")
    table = run_data(tmp_path, f"  path: {layout}\n  schema: {{test: {{chosen: chosen, rejected: rejected}}}}\n"
                               "  dialogue: hh\n")
    assert len(table) == 4666 and table["row_id"].is_unique
    assert table.loc[0, "row_id"] == "test/harmless-base/test.jsonl.gz#0"


def test_hh_rlhf_without_a_schema(tmp_path: Path, shared_data: Path) -> None:
    """Fields already named chosen/rejected need no schema; the split is 'all'."""
    table = run_data(tmp_path, f"  path: {shared_data / 'hh_rlhf/helpful-base.test.jsonl.gz'}\n  dialogue: hh\n")
    assert len(table) == 2354 and set(table["split"]) == {"all"}
    assert table["prompt"].str.endswith("Assistant:").all()


def test_gsm8k(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / GSM8K}\n")  # no schema: same-named fields
    assert len(table) == 1319
    assert list(table.columns) == ["row_id", "split", "question", "answer"]
    assert table["answer"].str.contains("####").all() and set(table["split"]) == {"all"}


def test_two_splits_from_one_folder(tmp_path: Path, shared_data: Path) -> None:
    """Each split reads the files whose names name it; rows come split by split."""
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "qa.dev.jsonl").symlink_to(shared_data / NQ_DEV)
    (folder / "qa.test.jsonl").symlink_to(shared_data / GSM8K)
    table = run_data(tmp_path, f"  path: {folder}\n  schema:\n    dev: {{question: question, answer: answer}}\n"
                               "    test: {question: question, answer: answer}\n")
    assert table["split"].value_counts().to_dict() == {"dev": 3610, "test": 1319}
    assert table.loc[3610, "row_id"] == "test/qa.test.jsonl#0"


# --- config shapes -------------------------------------------------------------------------------


LOOSE = """experiment:
  name: original
tracking:
  backend: none
data:
  id: nq
  path: {path}
  schema:
    train:
      - row:
        question: question
        answer: answer
  sample: default
"""


def test_the_original_loose_row_shape_loads(tmp_path: Path, shared_data: Path) -> None:
    """``- row:`` then sibling keys (YAML: [{row: null, question: ..., answer: ...}]) equals the clean form."""
    config = tmp_path / "original.yml"
    config.write_text(LOOSE.format(path=shared_data / NQ_DEV))
    loose = run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))
    table = loose.records[0].output.table()
    assert len(table) == 3610 and list(table.columns) == ["row_id", "split", "question", "answer"]
    assert set(table["split"]) == {"train"}
    clean = run(tmp_path / "clean", f"  path: {shared_data / NQ_DEV}\n  schema:\n    train:\n"
                                    "      question: question\n      answer: answer\n")
    pd.testing.assert_frame_equal(table, clean.records[0].output.table())


def test_the_loose_row_shape_with_nested_keys(tmp_path: Path, shared_data: Path) -> None:
    """``- row:`` with its keys indented under it gives the same mapping."""
    table = run_data(tmp_path, f"  path: {shared_data / SQUAD}\n  schema:\n    dev:\n      - row:\n"
                               "          question: question\n          answer: {field: answers.text, take: all}\n")
    assert len(table) == 706 and list(table["answer"][0]) == ["France"] * 4


def test_sample_default_is_all_rows(tmp_path: Path, shared_data: Path) -> None:
    result = run(tmp_path, f"  path: {shared_data / GSM8K}\n  sample: default\n")
    assert len(result.records[0].output.table()) == 1319
    assert result.records[0].output.manifest["config"]["sample"] == {"method": "all", "n": None, "seed": None}


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, shared_data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # not the config's folder
    relative = os.path.relpath(shared_data / GSM8K, folder)
    assert not relative.startswith("/")
    table = run_data(folder, f"  path: {relative}\n")
    assert len(table) == 1319 and table.loc[0, "row_id"] == "all/test.jsonl#0"


def test_the_builtin_prompt_set(tmp_path: Path) -> None:
    table = run_data(tmp_path, "  path: builtin:prompts\n  schema:\n    all: {question: question, answer: answer, "
                               "context: context}\n")
    assert len(table) == 48
    assert list(table.columns) == ["row_id", "split", "question", "answer", "context"]
    assert table[["question", "answer", "context"]].map(lambda v: isinstance(v, str) and v != "").all().all()
    assert table.loc[0, "row_id"] == "all/prompts.jsonl#0"
    pd.testing.assert_frame_equal(table, run_data(tmp_path / "plain", "  path: builtin:prompts\n"))


def test_an_unknown_builtin_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.path \(line 5\): unknown dataset component 'promts' "
                                          r"\(did you mean 'prompts'\?\)"):
        run(tmp_path, "  path: builtin:promts\n")


# --- sampling ------------------------------------------------------------------------------------


def test_sample_first(tmp_path: Path, shared_data: Path) -> None:
    body = f"  path: {shared_data / GSM8K}\n  sample: {{method: first, n: 50}}\n"
    table = run_data(tmp_path, body)
    assert indices(table) == list(range(50))


def test_sample_random_is_deterministic_and_keeps_source_order(tmp_path: Path, shared_data: Path) -> None:
    body = f"  path: {shared_data / GSM8K}\n  sample: {{method: random, n: 50, seed: SEED}}\n"
    one = run_data(tmp_path / "a", body.replace("SEED", "1"))
    again = run_data(tmp_path / "b", body.replace("SEED", "1"))
    other = run_data(tmp_path / "c", body.replace("SEED", "2"))
    pd.testing.assert_frame_equal(one, again)
    assert len(one) == len(other) == 50
    assert indices(one) == sorted(indices(one)) and len(set(indices(one))) == 50
    assert indices(one) != list(range(50))  # not simply the first rows
    assert set(indices(one)) != set(indices(other))
    full = run_data(tmp_path / "full", f"  path: {shared_data / GSM8K}\n").set_index("row_id")
    pd.testing.assert_frame_equal(one.set_index("row_id"), full.loc[one["row_id"]])


def test_sample_seed_defaults_to_the_experiment_seed(tmp_path: Path, shared_data: Path) -> None:
    body = f"  path: {shared_data / GSM8K}\n  sample: {{method: random, n: 20}}\n"
    default = run(tmp_path / "a", body, seed=3)
    explicit = run_data(tmp_path / "b", body.replace("n: 20", "n: 20, seed: 3"), seed=9)
    other = run_data(tmp_path / "c", body, seed=4)
    assert default.records[0].output.manifest["config"]["sample"]["seed"] == 3
    pd.testing.assert_frame_equal(default.records[0].output.table(), explicit)
    assert indices(other) != indices(explicit)


def test_the_experiment_seed_does_not_invalidate_a_first_sample(tmp_path: Path, shared_data: Path) -> None:
    """Only random sampling depends on the seed; other methods reuse their stored output across seeds."""
    first = f"  path: {shared_data / GSM8K}\n  sample: {{method: first, n: 10}}\n"
    assert run(tmp_path, first, seed=1).records[0].status == "computed"
    assert run(tmp_path, first, seed=2).records[0].status == "reused"
    random_body = first.replace("first", "random")
    assert run(tmp_path, random_body, seed=1).records[0].status == "computed"
    assert run(tmp_path, random_body, seed=2).records[0].status == "computed"


def test_a_sample_larger_than_the_data_keeps_every_row(tmp_path: Path, shared_data: Path) -> None:
    table = run_data(tmp_path, f"  path: {shared_data / GSM8K}\n  sample: {{method: random, n: 5000}}\n")
    assert indices(table) == list(range(1319))


# --- chunks, types -------------------------------------------------------------------------------


def test_small_chunks_give_the_same_table(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 5 rows (some holding only unanswerable questions) merge into the one-chunk table."""
    writes: list[int] = []
    original_write = ChunkWriter.write

    def counting_write(self: ChunkWriter, **tables: Any) -> None:
        writes.append(len(tables["data"]))
        original_write(self, **tables)

    monkeypatch.setattr(ChunkWriter, "write", counting_write)
    body = f"""  path: {shared_data / SQUAD}
  schema:
    dev:
      question: question
      answer: answers.text
      context: context
      chosen: {{field: answers.text, take: all}}
"""
    whole = run_data(tmp_path, body)
    assert writes == [706]
    chunked = run_data(tmp_path, body + "  chunk_rows: 5\n", name="chunked.yml")
    assert len(writes) == 1 + 142 and sum(writes[1:]) == 706
    pd.testing.assert_frame_equal(whole, chunked)
    some_chunk_all_null = any(whole["answer"][i:i + 5].isna().all() for i in range(0, 706, 5))
    assert some_chunk_all_null  # the case that needs one schema for all chunks


def test_loosely_typed_values_become_text(tmp_path: Path) -> None:
    """A field that is a number in one record and text in the next is one text column, not a crash."""
    path = tmp_path / "mixed.jsonl"
    records = [{"question": "1+1?", "answer": 2, "context": [1, "a"]},
               {"question": "pi?", "answer": 3.14, "context": [[1, 2], None]},
               {"question": "name?", "answer": "two", "context": "c"},
               {"question": "ok?", "answer": True, "context": []},
               {"question": "none?", "answer": None, "context": [{"v": 1}]},
               {"question": "obj?", "answer": {"v": 1}, "context": [[3]]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = run_data(tmp_path, f"  path: {path}\n  chunk_rows: 2\n  schema:\n    all:\n      question: question\n"
                               "      answer: answer\n      context: {field: context, take: all}\n")
    assert values(table["answer"]) == ["2", "3.14", "two", "true", None, '{"v": 1}']
    assert [list(c) for c in table["context"]] == [["1", "a"], ["[1, 2]", None], ["c"], [], ['{"v": 1}'], ["[3]"]]
    first = run_data(tmp_path / "first", f"  path: {path}\n  schema: {{all: {{question: question, context: context}}}}\n")
    assert values(first["context"]) == ["1", "[1, 2]", "c", None, '{"v": 1}', "[3]"]


# --- errors --------------------------------------------------------------------------------------


def test_a_missing_field_names_the_schema_key(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError) as error:
        run(tmp_path, f"  path: {shared_data / NQ_DEV}\n  schema:\n    dev:\n      question: questoin\n")
    message = str(error.value)
    assert message == (f"{tmp_path / 'c.yml'}: data.schema.dev.question (line 8): no record has the field "
                       "'questoin' (did you mean 'question'?); fields: answer, question")
    assert not list((tmp_path / "store").glob("*.partial"))  # nothing half-written


def test_a_missing_nested_field_suggests_the_dotted_path(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError) as error:
        run(tmp_path, f"  path: {shared_data / SQUAD}\n  schema:\n    dev:\n      question: question\n"
                      "      answer: answers.txt\n")
    message = str(error.value)
    assert "data.schema.dev.answer (line 9): no record has the field 'answers.txt'" in message
    assert "(did you mean 'answers.text'" in message and "answers.answer_start" in message


def test_a_missing_field_in_the_loose_shape_is_located(tmp_path: Path, shared_data: Path) -> None:
    config = tmp_path / "original.yml"
    config.write_text(LOOSE.format(path=shared_data / NQ_DEV).replace("answer: answer", "answer: answers"))
    with pytest.raises(ConfigError, match=r"data\.schema\.train\.answer \(line 9\): no record has the field "
                                          r"'answers' \(did you mean 'answer'\?\)"):
        run_experiment(RunOptions(config=config, out=tmp_path / "out", store=tmp_path / "store"))


def test_an_unknown_canonical_column_is_a_config_error(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.schema\.dev"):
        run(tmp_path, f"  path: {shared_data / NQ_DEV}\n  schema:\n    dev:\n      questoin: question\n")


def test_hh_needs_chosen_and_rejected(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.dialogue \(line 7\): dialogue: hh needs the schema to map"):
        run(tmp_path, f"  path: {shared_data / GSM8K}\n  schema: {{all: {{chosen: answer}}}}\n  dialogue: hh\n")
    with pytest.raises(ConfigError, match=r"data\.dialogue \(line 7\): .*not take: all"):
        run(tmp_path / "all", f"  path: {shared_data / 'hh_rlhf'}\n  schema: {{test: {{chosen: chosen, rejected: "
                              "{field: rejected, take: all}}}\n  dialogue: hh\n")
    with pytest.raises(ConfigError, match=r"data\.dialogue \(line 6\): dialogue: hh needs"):
        run(tmp_path / "none", f"  path: {shared_data / GSM8K}\n  dialogue: hh\n")  # no schema, no chosen field


def test_an_empty_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ConfigError, match=r"data\.path \(line 5\): split 'all' has no records \(empty\.jsonl\)"):
        run(tmp_path, "  path: empty.jsonl\n")


def test_a_missing_local_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.path \(line 5\): no such file or folder: .*nothere\.jsonl"):
        run(tmp_path, "  path: nothere.jsonl\n")
    with pytest.raises(ConfigError, match=r"data\.path \(line 5\): no such file or folder: .*my data"):
        run(tmp_path, "  path: my data\n")  # neither a file nor a possible hub name


def test_a_hub_dataset_offline_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as error:
        run(tmp_path, "  path: rajpurkar/squad_v2\n  schema: {validation: {question: question}}\n")
    message = str(error.value)
    assert "cannot reach the Hugging Face hub" in message and "local" in message and "\n" not in message
