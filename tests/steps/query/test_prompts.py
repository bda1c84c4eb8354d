"""What a neuron query reads from a data table: questions, answers, passages, and per-row references."""

from __future__ import annotations

import pandas as pd

from mirror_neuron.neuron.miners.base import Reference
from mirror_neuron.steps.query.prompts import DataPrompts


def test_each_question_carries_what_its_row_knows_and_rows_without_a_question_are_left_out() -> None:
    table = pd.DataFrame({"question": ["In what country is Normandy located?", None, "Who was the Norse leader?"],
                          "answer": ["France", "x", None], "context": ["P1", "P1", "P2"]})
    data = DataPrompts.of(table)
    assert data.questions == ["In what country is Normandy located?", "Who was the Norse leader?"]
    assert data.answers == ["France", None] and data.contexts == ["P1", "P2"]
    assert data.references == [Reference("France", "P1"), Reference(None, "P2")]


def test_hh_rows_carry_their_chosen_and_rejected_responses() -> None:
    table = pd.DataFrame({"prompt": ["\n\nHuman: Hi?\n\nAssistant:"], "chosen": [" Hello!"], "rejected": [" Go away."]})
    data = DataPrompts.of(table)
    assert data.answers == [] and data.references == [Reference(chosen=" Hello!", rejected=" Go away.")]
