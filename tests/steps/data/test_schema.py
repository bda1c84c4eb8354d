"""Mapping records to canonical columns: dotted lookups, list handling, and HH-RLHF dialogue splitting."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from mirror_neuron.steps.data.schema import (
    ASSISTANT_TURN,
    MISSING,
    FieldSpec,
    extract,
    lookup,
    split_dialogue,
    to_canonical_hh,
)

SQUAD_ROW = {
    "question": "In what country is Normandy located?",
    "answers": {"text": ["France", "France"], "answer_start": [159, 159]},
    "meta": {"source": {"article": "Normans"}},
    "empty": {"text": []},
    "spans": [{"text": "a", "start": 1}, {"text": "b", "start": 2}],
    "nothing": None,
}


def test_lookup_follows_nested_mappings() -> None:
    """Dotted paths step into nested dicts; a plain name is a top-level field."""
    assert lookup(SQUAD_ROW, "question") == "In what country is Normandy located?"
    assert lookup(SQUAD_ROW, "answers.text") == ["France", "France"]
    assert lookup(SQUAD_ROW, "answers.answer_start") == [159, 159]
    assert lookup(SQUAD_ROW, "meta.source.article") == "Normans"


def test_lookup_steps_across_lists_of_mappings() -> None:
    """A path through a list of mappings collects the field of every element."""
    assert lookup(SQUAD_ROW, "spans.text") == ["a", "b"]
    assert lookup(SQUAD_ROW, "spans.start") == [1, 2]


@pytest.mark.parametrize("dotted", ["answer", "answers.txt", "meta.source.title", "question.text", "x.y.z",
                                    "spans.txt", "answers.text.value"])
def test_lookup_of_an_absent_field_is_missing(dotted: str) -> None:
    """Absent keys, paths into a string, and keys no list element has give MISSING (not None or [None, ...])."""
    assert lookup(SQUAD_ROW, dotted) is MISSING


def test_lookup_keeps_an_explicit_null() -> None:
    """A field present with value null is None, distinct from MISSING."""
    assert lookup(SQUAD_ROW, "nothing") is None


def test_take_first_is_the_default() -> None:
    assert FieldSpec(field="answers.text").take == "first"
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text")) == "France"


def test_take_all_keeps_the_list() -> None:
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text", take="all")) == ["France", "France"]
    assert extract(SQUAD_ROW, FieldSpec(field="answers.answer_start", take="all")) == [159, 159]


def test_take_all_wraps_a_scalar() -> None:
    """``take: all`` always gives a list, so a column mixing scalars and lists stays one type."""
    assert extract(SQUAD_ROW, FieldSpec(field="question", take="all")) == ["In what country is Normandy located?"]


def test_take_join_concatenates_with_sep() -> None:
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text", take="join")) == "France\nFrance"
    assert extract(SQUAD_ROW, FieldSpec(field="answers.answer_start", take="join", sep=" | ")) == "159 | 159"


def test_take_join_leaves_out_nulls() -> None:
    """Null list elements are not written out as the text 'None'."""
    assert extract({"a": ["x", None, "y"]}, FieldSpec(field="a", take="join", sep=",")) == "x,y"
    assert extract({"a": [None]}, FieldSpec(field="a", take="join")) is None


def test_empty_list() -> None:
    """An empty list (an unanswerable SQuAD question) is None for first and join, [] for all."""
    assert extract(SQUAD_ROW, FieldSpec(field="empty.text")) is None
    assert extract(SQUAD_ROW, FieldSpec(field="empty.text", take="join")) is None
    assert extract(SQUAD_ROW, FieldSpec(field="empty.text", take="all")) == []


@pytest.mark.parametrize("take", ["first", "all", "join"])
def test_extract_of_an_absent_field_is_missing(take: str) -> None:
    assert extract(SQUAD_ROW, FieldSpec(field="answers.txt", take=take)) is MISSING


def test_scalars_pass_through_first_and_join() -> None:
    assert extract({"answer": "42"}, FieldSpec(field="answer")) == "42"
    assert extract({"answer": "42"}, FieldSpec(field="answer", take="join")) == "42"
    assert extract({"answer": None}, FieldSpec(field="answer")) is None


def test_field_spec_refuses_unknown_keys_and_takes() -> None:
    with pytest.raises(ValidationError):
        FieldSpec(field="a", tak="all")
    with pytest.raises(ValidationError):
        FieldSpec(field="a", take="last")


def test_split_dialogue_cuts_after_the_final_assistant_turn() -> None:
    text = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant: Fine, thanks."
    prompt, answer = split_dialogue(text)
    assert prompt == "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: How are you?\n\nAssistant:"
    assert answer == " Fine, thanks."
    assert prompt + answer == text


def test_split_dialogue_with_an_empty_final_answer() -> None:
    prompt, answer = split_dialogue("\n\nHuman: Hi\n\nAssistant:")
    assert (prompt, answer) == ("\n\nHuman: Hi\n\nAssistant:", "")


def test_split_dialogue_without_an_assistant_turn_is_all_prompt() -> None:
    assert split_dialogue("\n\nHuman: Hi") == ("\n\nHuman: Hi", "")


def test_to_canonical_hh_keeps_other_columns() -> None:
    row = {"row_id": "test/x#0", "split": "test", "chosen": "\n\nHuman: Q\n\nAssistant: good",
           "rejected": "\n\nHuman: Q\n\nAssistant: bad"}
    assert to_canonical_hh(row) == {"row_id": "test/x#0", "split": "test", "prompt": "\n\nHuman: Q\n\nAssistant:",
                                    "chosen": " good", "rejected": " bad"}


def test_hh_split_is_invertible_on_the_real_data(shared_data: Path) -> None:
    """On every real HH-RLHF pair, prompt + chosen is the chosen dialogue and the prompt ends the Assistant turn."""
    checked = 0
    for path in sorted((shared_data / "hh_rlhf").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                row = to_canonical_hh(dict(record))
                assert row["prompt"] + row["chosen"] == record["chosen"]
                assert row["prompt"].endswith(ASSISTANT_TURN)
                _, rejected = split_dialogue(record["rejected"])
                assert row["rejected"] == rejected and record["rejected"].endswith(rejected)
                checked += 1
    assert checked == 2354 + 2312
