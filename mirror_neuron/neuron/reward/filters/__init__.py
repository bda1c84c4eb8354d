"""Filters of the later validators: (query, completions) -> one multiplier in [0, 1] per completion.

A filter does not score quality; it removes completions that game the scorers. The reward stack
multiplies the weighted sum of normalized scores by each enabled filter's output, so 0 removes a
completion and 1 keeps it. Each filter has a ``name``, its ``params()`` (what to record with a run)
and, where it remembers past batches, ``get_state()``/``set_state()`` for :meth:`Neuron.save`.

Exploits (``/work/shared/reference/validator-2023.md``) and the filter meant to catch each:
prompt echo and keyword stuffing -> :class:`BlacklistFilter` (echo); stock phrases and refusals ->
:class:`BlacklistFilter`; answer-stuffing in a question step -> :class:`TaskValidatorFilter`;
off-topic or random text -> :class:`RelevanceFilter`; one cached answer from many hotkeys ->
:class:`DiversityFilter`.
"""

from mirror_neuron.neuron.reward.filters.base import Embedder, Filter, per_distinct
from mirror_neuron.neuron.reward.filters.embedding import DiversityFilter, RelevanceFilter, unit_rows
from mirror_neuron.neuron.reward.filters.text import (
    BLACKLIST_PHRASES,
    REFUSAL_PREFIXES,
    STOPWORDS,
    BlacklistFilter,
    TaskValidatorFilter,
    content_words,
    expanded,
    is_question,
    normalized,
    sentences,
    words,
)

__all__ = ["BLACKLIST_PHRASES", "REFUSAL_PREFIXES", "STOPWORDS", "BlacklistFilter", "DiversityFilter", "Embedder",
           "Filter", "RelevanceFilter", "TaskValidatorFilter", "content_words", "expanded", "is_question",
           "normalized", "per_distinct", "sentences", "unit_rows", "words"]
