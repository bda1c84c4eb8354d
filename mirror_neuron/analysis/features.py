"""Named text features: one small function per measure, one table of names.

A feature is ``<text>_<measure>``: a measure (``length`` in characters, ``num_words``,
``avg_word_length``) of one text of a row. The texts are ``question`` (the prompt), ``completion``
(a miner's completion, or the answer a reward-model query scored), ``answer`` (the same scored answer,
under the data set's name), and ``chosen`` / ``rejected`` (the two answers of a preference pair). The
original tool's names ``question_length``, ``num_words`` and ``avg_word_length`` measure the question.
Pair features combine two texts (``length_difference``: chosen minus rejected characters).

To add a feature, add a function to :data:`MEASURES` (it then exists for every text) or to
:data:`PAIR_FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mirror_neuron.errors import did_you_mean

if TYPE_CHECKING:
    from mirror_neuron.catalogue import Declaration

TEXTS: dict[str, str] = {
    "question": "the prompt",
    "completion": "the completion",
    "answer": "the scored answer",
    "chosen": "the chosen answer",
    "rejected": "the rejected answer",
}


def length(text: str) -> float:
    """Characters."""
    return float(len(text))


def num_words(text: str) -> float:
    """Whitespace-separated words."""
    return float(len(text.split()))


def avg_word_length(text: str) -> float:
    """Mean characters per word (0 without words)."""
    words = text.split()
    return sum(map(len, words)) / len(words) if words else 0.0


def length_difference(chosen: str, rejected: str) -> float:
    """Characters of the chosen minus the rejected answer."""
    return float(len(chosen) - len(rejected))


# measure -> (function of one text, how `ls` describes it)
MEASURES: dict[str, tuple[Callable[[str], float], str]] = {
    "length": (length, "characters in"),
    "num_words": (num_words, "words in"),
    "avg_word_length": (avg_word_length, "mean word length of"),
}

# name -> (texts, function of those texts, description)
PAIR_FEATURES: dict[str, tuple[tuple[str, ...], Callable[..., float], str]] = {
    "length_difference": (("chosen", "rejected"), length_difference,
                          "characters of the chosen minus the rejected answer"),
}

# The original tool's unprefixed names, which measure the question.
ORIGINAL_NAMES = {"num_words": "question_num_words", "avg_word_length": "question_avg_word_length"}


@dataclass(frozen=True)
class Feature:
    name: str
    texts: tuple[str, ...]
    function: Callable[..., float]
    summary: str

    def compute(self, columns: dict[str, Sequence[object]]) -> list[float]:
        """The feature for every row, given each text column (a missing value counts as "")."""
        rows = zip(*(columns[text] for text in self.texts))
        return [self.function(*(value if isinstance(value, str) else "" for value in row)) for row in rows]


def _catalogue() -> dict[str, Feature]:
    features = {f"{text}_{measure}": Feature(f"{text}_{measure}", (text,), function, f"{says} {TEXTS[text]}")
                for text in TEXTS for measure, (function, says) in MEASURES.items()}
    features.update({name: Feature(name, texts, function, says)
                     for name, (texts, function, says) in PAIR_FEATURES.items()})
    features.update({name: Feature(name, features[full].texts, features[full].function,
                                   f"{features[full].summary} (the original's name)")
                     for name, full in ORIGINAL_NAMES.items()})
    return features


FEATURES: dict[str, Feature] = _catalogue()


def get(name: str) -> Feature:
    """The feature ``name``; raises ``ValueError`` naming the closest ones for an unknown name."""
    if name not in FEATURES:
        raise ValueError(f"unknown feature '{name}'{did_you_mean(name, FEATURES)}; a feature is <text>_<measure> "
                         f"(texts: {', '.join(TEXTS)}; measures: {', '.join(MEASURES)}) or one of "
                         f"{', '.join([*PAIR_FEATURES, *ORIGINAL_NAMES])}")
    return FEATURES[name]


def declarations() -> list[Declaration]:
    """Every feature as a component of the ``feature`` family, the original's names first (the
    features are generated from :data:`MEASURES` and :data:`PAIR_FEATURES`, so they are declared here)."""
    from mirror_neuron.catalogue import Declaration

    first = ["question_length", *ORIGINAL_NAMES]
    names = first + [name for name in FEATURES if name not in first]
    return [Declaration("feature", name, f"{__name__}:{FEATURES[name].function.__name__}", FEATURES[name].summary,
                        (), ()) for name in names]
