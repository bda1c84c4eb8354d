"""What a neuron query reads from its data step: the questions, their reference answers, the passages."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd


class DataPrompts(NamedTuple):
    """``questions`` (the ``question`` column, else ``prompt``), ``answers`` (None where missing; empty
    when the data has none) and ``contexts`` (distinct ``context`` passages, in order; empty when none)."""

    questions: list[str]
    answers: list[str | None]
    contexts: list[str]

    @classmethod
    def of(cls, table: pd.DataFrame) -> DataPrompts:
        column = "question" if "question" in table else "prompt"
        questions = table[column].fillna("").astype(str).tolist()
        answers = [a if isinstance(a, str) else None for a in table["answer"]] if "answer" in table else []
        contexts = list(dict.fromkeys(table["context"].dropna().astype(str))) if "context" in table else []
        return cls(questions, answers, contexts)
