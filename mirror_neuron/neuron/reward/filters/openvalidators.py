"""The openvalidators' text filters, rule for rule: the blacklist and the task validator.

The mirror's own :class:`~.text.BlacklistFilter` and :class:`~.text.TaskValidatorFilter` are stronger
defences; these reproduce what the real validators ran (tags v1.1.3, which logged the events in
``shared/data/sn1_openvalidators``, and v1.1.8/v1.2.0). Like the originals' ``apply``, they see only the
completions of successful calls, already stripped; the loop gives the others 0. The model filters
(relevance, diversity, NSFW) are in :mod:`.openvalidators_models`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.filters.base import Filter
from mirror_neuron.registry import component

Version = Literal["1.1", "1.2"]
BLACKLIST = ("That is an excellent question.",)

# (summary, question, answer) keywords of the task validator: v1.1.3, and v1.1.8 on.
STEP_KINDS = ("augment", "followup", "answer")  # the openvalidators step names; any other is read by its question flag
TASK_KEYWORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "1.1": (("Summary:",), ("Question:",), ("Answer:",)),
    "1.2": (("Summary:", "Paraphrase:", "Paraphrasing:", "Paraphrased:"), ("Question:", "Query:", "Q:"),
            ("Answer:", "Response:", "A:", "Completion:")),
}


def check_version(version: str) -> Version:
    """``version`` if it is one of the openvalidators versions with their own rules, else a ValueError."""
    if version not in ("1.1", "1.2"):
        raise ValueError(f"version must be '1.1' or '1.2', got {version!r}")
    return version  # type: ignore[return-value]


@component("filter", "ov_blacklist",
           summary="openvalidators' blacklist: the one phrase, the prompt itself, the forward's chosen texts")
class OpenValidatorsBlacklist(Filter):
    """0 for a completion that equals ``"That is an excellent question."``, the query's
    :attr:`~Query.filter_prompt`, or a question or answer the forward already chose; 1 otherwise.

    Equality is exact (no case folding, no normalization), as in v1.1.3 and v1.2.0. The forward's chosen
    texts arrive through :meth:`chosen` (after each follow-up/answer pair) and are forgotten at
    :meth:`new_forward`.
    """

    column: ClassVar[str] = "blacklist_filter"

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.answers: list[str] = []

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        banned = {*BLACKLIST, query.filter_prompt, *self.questions, *self.answers}
        return np.array([0.0 if c in banned else 1.0 for c in completions], dtype=np.float64)

    def new_forward(self) -> None:
        self.questions, self.answers = [], []

    def chosen(self, question: str, answer: str) -> None:
        self.questions.append(question)
        self.answers.append(answer)

    def get_state(self) -> dict:
        return {"questions": list(self.questions), "answers": list(self.answers)}

    def set_state(self, state: dict) -> None:
        self.questions, self.answers = list(state.get("questions", [])), list(state.get("answers", []))


@component("filter", "ov_task_validator",
           summary="openvalidators' task validator: forbidden keywords by step name (augment, followup, answer)")
class OpenValidatorsTaskValidator(Filter):
    """0 for a completion holding a keyword its step forbids; 1 otherwise. Keywords match as
    case-insensitive substrings (``.lower()`` on both sides, as the logged events show for v1.1.3).

    By the query's step name: ``augment`` (a summary) and ``followup*`` (a question) forbid the answer
    keywords; ``augment`` and ``answer*`` forbid the question keywords; every step but ``augment``
    forbids the summary keywords. A query without a step name (the mirror's own loops) counts as a
    follow-up when it asks for a question, else as an answer. ``version`` picks the keywords
    (:data:`TASK_KEYWORDS`): "1.1" is v1.1.3's one per kind, "1.2" the longer lists of v1.1.8 on.
    """

    column: ClassVar[str] = "task_validator_filter"

    def __init__(self, version: Version = "1.2") -> None:
        self.version = check_version(version)
        summary, question, answer = TASK_KEYWORDS[self.version]
        self._summary = [k.lower() for k in summary]
        self._question = [k.lower() for k in question]
        self._answer = [k.lower() for k in answer]

    def params(self) -> dict:
        return {"version": self.version}

    def mask(self, query: Query, completions: list[str]) -> np.ndarray:
        name = query.name if query.name.startswith(STEP_KINDS) else ("followup" if query.question else "answer")
        return np.array([self.keeps(c, name) for c in completions], dtype=np.float64)

    def keeps(self, completion: str, name: str) -> float:
        """1.0 when ``completion`` holds no keyword that step ``name`` forbids, else 0.0."""
        text = completion.lower()
        summarizing, asking, answering = name == "augment", name.startswith("followup"), name.startswith("answer")
        if (summarizing or asking) and any(k in text for k in self._answer):
            return 0.0
        if (summarizing or answering) and any(k in text for k in self._question):
            return 0.0
        if not summarizing and any(k in text for k in self._summary):
            return 0.0
        return 1.0
