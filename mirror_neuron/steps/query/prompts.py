"""What a neuron query reads from its data step: the questions, what the data knows of each, the passages."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from mirror_neuron.neuron.miners.base import Reference


class DataPrompts(NamedTuple):
    """``questions`` (the ``question`` column, else ``prompt``; rows without one are left out), ``answers``
    (None where missing; empty when the data has none), ``contexts`` (distinct ``context`` passages, in
    order; empty when none) and ``references`` (per question, its answer, passage and HH-RLHF ``chosen``
    and ``rejected`` responses: what the simulated miners may know)."""

    questions: list[str]
    answers: list[str | None]
    contexts: list[str]
    references: list[Reference] = []

    @classmethod
    def of(cls, table: pd.DataFrame) -> DataPrompts:
        column = "question" if "question" in table else "prompt"
        table = table[table[column].fillna("").astype(str) != ""] if column in table else table.iloc[:0]
        questions = table[column].astype(str).tolist() if column in table else []
        answers = [_text(a) for a in table["answer"]] if "answer" in table else []
        contexts = list(dict.fromkeys(table["context"].dropna().astype(str))) if "context" in table else []
        known = {name: [_text(v) for v in table[name]] if name in table else [None] * len(questions)
                 for name in ("answer", "context", "chosen", "rejected")}
        references = [Reference(*row) for row in zip(*known.values())]
        return cls(questions, answers, contexts, references)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
