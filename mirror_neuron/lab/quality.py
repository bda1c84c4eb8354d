"""Answer quality against a reference: SQuAD's token F1.

Texts are compared after SQuAD's normalization: lower case, punctuation removed, the articles
"a", "an" and "the" dropped, whitespace collapsed. F1 is the harmonic mean of token precision and
recall over the multiset of shared tokens; with several references, the best one counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str | Iterable[str]) -> float:
    """Token F1 of ``prediction`` against ``reference`` (or the best of several references).

    Two texts that both normalize to nothing score 1; one empty side alone scores 0.
    """
    if not isinstance(reference, str):
        scores = [token_f1(prediction, r) for r in reference if isinstance(r, str)]
        return max(scores, default=0.0)
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(expected)
    return 2 * precision * recall / (precision + recall)
