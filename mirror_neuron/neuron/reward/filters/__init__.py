"""Filters of the later validators: (query, completions) -> one multiplier in [0, 1] per completion.

The contract is in :mod:`.base`; the text filters in :mod:`.text`, the embedding filters in :mod:`.embedding`.
The openvalidators' own rules, reproduced as they ran, are in :mod:`.openvalidators` (text) and
:mod:`.openvalidators_models` (relevance, diversity, NSFW).

Exploits (``/work/shared/reference/validator-2023.md``) and the filter meant to catch each:
prompt echo and keyword stuffing -> :class:`BlacklistFilter` (echo); stock phrases and refusals ->
:class:`BlacklistFilter`; answer-stuffing in a question step -> :class:`TaskValidatorFilter`;
off-topic or random text -> :class:`RelevanceFilter`; one cached answer from many hotkeys ->
:class:`DiversityFilter`.
"""

from mirror_neuron.neuron.reward.filters.base import Embedder, Filter
from mirror_neuron.neuron.reward.filters.embedding import DiversityFilter, RelevanceFilter
from mirror_neuron.neuron.reward.filters.openvalidators import OpenValidatorsBlacklist, OpenValidatorsTaskValidator
from mirror_neuron.neuron.reward.filters.openvalidators_models import (
    NSFWFilter,
    OpenValidatorsDiversity,
    OpenValidatorsRelevance,
)
from mirror_neuron.neuron.reward.filters.text import BlacklistFilter, TaskValidatorFilter, sentences

__all__ = ["BlacklistFilter", "DiversityFilter", "Embedder", "Filter", "NSFWFilter", "OpenValidatorsBlacklist",
           "OpenValidatorsDiversity", "OpenValidatorsRelevance", "OpenValidatorsTaskValidator", "RelevanceFilter",
           "TaskValidatorFilter", "sentences"]
