"""Field lookup, list handling and HH-RLHF dialogue splitting."""

from __future__ import annotations

from mirror_neuron.steps.data.schema import MISSING, FieldSpec, extract, lookup, split_dialogue, to_canonical_hh

SQUAD_ROW = {"question": "q", "answers": {"text": ["France", "Francia"], "answer_start": [1, 2]},
             "qas": [{"id": "a"}, {"id": "b"}]}


def test_lookup_follows_nested_fields_and_lists_of_mappings() -> None:
    assert lookup(SQUAD_ROW, "answers.text") == ["France", "Francia"]
    assert lookup(SQUAD_ROW, "qas.id") == ["a", "b"]
    assert lookup(SQUAD_ROW, "answers.absent") is MISSING
    assert lookup(SQUAD_ROW, "question.deeper") is MISSING


def test_lists_take_first_all_or_join() -> None:
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text")) == "France"
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text", take="all")) == ["France", "Francia"]
    assert extract(SQUAD_ROW, FieldSpec(field="answers.text", take="join", sep=" | ")) == "France | Francia"
    assert extract({"answers": {"text": []}}, FieldSpec(field="answers.text")) is None
    assert extract({"answer": "x"}, FieldSpec(field="answer", take="all")) == ["x"]


def test_hh_dialogues_split_into_prompt_and_final_answer_invertibly() -> None:
    dialogue = "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Capital of France?\n\nAssistant: Paris."
    prompt, answer = split_dialogue(dialogue)
    assert prompt.endswith("Capital of France?\n\nAssistant:") and answer == " Paris."
    assert prompt + answer == dialogue
    assert split_dialogue("no turns here") == ("no turns here", "")
    row = to_canonical_hh({"chosen": dialogue, "rejected": dialogue.replace("Paris.", "Lyon.")})
    assert row["prompt"] == prompt and row["chosen"] == " Paris." and row["rejected"] == " Lyon."
