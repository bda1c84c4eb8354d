"""The later validators' reward: a weighted sum of normalized scorers, multiplied by filters."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from mirror_neuron import registry
from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, Rewards
from mirror_neuron.neuron.reward.filters import Filter
from mirror_neuron.neuron.reward.normalize import RunningNormalizer
from mirror_neuron.registry import component


@component("reward",
           summary="later validators: weighted sum of running-z-score-normalized scorers, times filters",
           factory="from_config")
class RewardStack(RewardModelBase):
    """``final = (sum_i w_i * normalized_i) * prod_j mask_j`` over scorers ``i`` and enabled filters ``j``.

    - ``scorers``: ``(name, model, weight)``. Each model's ``Rewards.final`` is its raw score; each
      scorer has its own :class:`RunningNormalizer` (``count_limit``; ``unbiased_variance``: its
      ``ddof=1``, openvalidators' NaN-after-a-batch-of-one rule) mapping it into [0, 1]. Weights are
      used as given: they need not sum to 1 (the reference's summed to 1, e.g. 0.4/0.3/0.3).
    - ``filters``: ``(name, filter, enabled)``. Every filter runs and its mask is recorded; only the
      enabled ones multiply the reward, so a disabled filter shows what it would have removed.
      ``off_zeroes_rewards`` reproduces openvalidators' ``--neuron.<filter>_off`` bug instead: a
      disabled filter is replaced by a mock that returns 0 for every completion (recorded as its
      mask, and it does not run), so every reward is 0.
    - A completion with a non-finite raw score from any scorer gets final 0; the score is recorded
      as it came (NaN) and left out of that scorer's running statistics.
    - Recorded per completion: ``raw["scorer:<name>"]`` (the scorer's final) and
      ``normalized["scorer:<name>"]``; ``raw["filter:<name>"]`` and ``normalized["filter:<name>"]``
      (the mask, the same in both: it is already a multiplier in [0, 1]). :meth:`columns` names the
      openvalidators event column of each.

    ``score(prompts, completions)`` (the row interface) runs each prompt's completions through
    :meth:`rewards` as a one-message user query, so it updates the normalizers as ``rewards`` does.

    Without ``off_zeroes_rewards``, the same outcome follows from any enabled filter whose output is
    all 0, whatever the scorers say. (A constant-zero *scorer* alone does not zero the rewards: its
    batch has variance 0, so it normalizes to 0.5 for every completion.)
    """

    def __init__(self, scorers: list[tuple[str, RewardModelBase, float]],
                 filters: list[tuple[str, Filter, bool]] | None = None, *, count_limit: int = 1000,
                 unbiased_variance: bool = False, off_zeroes_rewards: bool = False, seed: int = 0) -> None:
        super().__init__(seed)
        self.scorers = [(name, model, float(weight)) for name, model, weight in scorers]
        self.filters = [(name, fltr, bool(enabled)) for name, fltr, enabled in filters or []]
        _check_unique("scorer", [name for name, _, _ in self.scorers])
        _check_unique("filter", [name for name, _, _ in self.filters])
        if not self.scorers:
            raise ValueError("a reward stack needs at least one scorer")
        self.off_zeroes_rewards = off_zeroes_rewards
        ddof = 1 if unbiased_variance else 0
        self.normalizers = {name: RunningNormalizer(count_limit, ddof) for name, _, _ in self.scorers}

    @classmethod
    def from_config(cls, seed: int = 0, scorers: dict[str, dict[str, Any]] | None = None,
                    filters: dict[str, dict[str, Any] | None] | None = None, count_limit: int = 1000,
                    unbiased_variance: bool = False, off_zeroes_rewards: bool = False, embedder: str = "minilm",
                    base_dir: Path | None = None) -> RewardStack:
        """A stack from a config's ``reward`` entry::

            reward:
              type: RewardStack
              scorers:                      # name: {type: <reward model>, weight: w, params...}
                dpo: {type: LogProbRewardModel, weight: 0.3, path: smollm2}
                constant: {type: ConstantRewardModel, weight: 0.7}
              filters:                      # name (a registered filter): {enabled: true, params...}
                blacklist: {}
                relevance: {threshold: 0.2}
                diversity: {enabled: false}
              embedder: minilm              # sentence embeddings for relevance and diversity
              count_limit: 1000             # the normalizers' count cap
              unbiased_variance: false      # true: openvalidators' ddof=1 normalizer (NaN after a batch of one)
              off_zeroes_rewards: false     # true: a disabled filter returns 0s (openvalidators' *_off bug)
        """
        from mirror_neuron.models.embeddings import SentenceEmbedder

        built_scorers = []
        for index, (name, spec) in enumerate((scorers or {}).items()):
            spec = dict(spec or {})
            if "type" not in spec:
                raise UserError(f"reward.scorers.{name}: needs a type (a registered reward model)")
            found = registry.get("reward", spec.pop("type"))
            weight = float(spec.pop("weight", 1.0))
            _checked(found, spec, f"reward.scorers.{name}")
            model_class = found.load()
            try:
                supplied = registry.taken(model_class, seed=seed + 1 + index, base_dir=base_dir)
                built_scorers.append((name, model_class(**supplied, **spec), weight))
            except TypeError as error:
                raise UserError(f"reward.scorers.{name}: {error}") from None
        built_filters = []
        for name, spec in (filters or {}).items():
            spec = dict(spec or {})
            enabled = bool(spec.pop("enabled", True))
            found = registry.get("filter", name)
            _checked(found, spec, f"reward.filters.{name}")
            filter_class = found.load()
            if "embedder" in inspect.signature(filter_class).parameters:
                spec["embedder"] = SentenceEmbedder(embedder)
            try:
                built_filters.append((name, filter_class(**spec), enabled))
            except TypeError as error:
                raise UserError(f"reward.filters.{name}: {error}") from None
        try:
            return cls(built_scorers, built_filters, count_limit=count_limit, unbiased_variance=unbiased_variance,
                       off_zeroes_rewards=off_zeroes_rewards, seed=seed)
        except ValueError as error:
            raise UserError(f"reward: {error}") from None

    @property
    def remembers(self) -> bool:  # type: ignore[override]
        """Whether some scorer keeps what it computed (then scoring a batch first makes single calls cheap)."""
        return any(model.remembers for _, model, _ in self.scorers)

    def params(self) -> dict:
        """Scorers with their weights, filters with their parameters: what to record with a run."""
        return {"scorers": [{"name": name, "model": type(model).__name__, "weight": weight}
                            for name, model, weight in self.scorers],
                "filters": [{"name": name, "filter": type(fltr).__name__, "enabled": enabled, **fltr.params()}
                            for name, fltr, enabled in self.filters],
                "count_limit": next(iter(self.normalizers.values())).count_limit,
                "unbiased_variance": next(iter(self.normalizers.values())).ddof == 1,
                "off_zeroes_rewards": self.off_zeroes_rewards}

    def columns(self) -> dict[str, str]:
        """Each record key's openvalidators event column: ``scorer:<name>`` -> ``<name>_reward_model``,
        ``filter:<name>`` -> the filter's ``column`` (``<name>_filter`` when it names none)."""
        named = {f"scorer:{name}": f"{name}_reward_model" for name, _, _ in self.scorers}
        for name, fltr, _ in self.filters:
            named[f"filter:{name}"] = getattr(fltr, "column", f"{name}_filter")
        return named

    def stand_ins(self) -> dict[str, str]:
        """Every part's stand-ins, keyed ``scorer.<name>:<original>`` or ``filter.<name>:<original>`` (the
        original's hub id), each the model loaded in its place; empty when every part loaded its original."""
        found: dict[str, str] = {}
        parts = [("scorer", name, part) for name, part, _ in self.scorers] + \
                [("filter", name, part) for name, part, _ in self.filters]
        for kind, name, part in parts:
            listed = getattr(part, "stand_ins", None)
            for original, loaded in (listed() if callable(listed) else {}).items():
                found[f"{kind}.{name}:{original}"] = loaded
        return found

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        n = len(completions)
        raw: dict[str, np.ndarray] = {}
        normalized: dict[str, np.ndarray] = {}
        combined = np.zeros(n)
        invalid = np.zeros(n, dtype=bool)
        for name, model, weight in self.scorers:
            scores = _vector(model.rewards(query, completions).final, n, f"scorer '{name}'")
            raw[f"scorer:{name}"] = scores
            normalized[f"scorer:{name}"] = self.normalizers[name](scores)
            combined += weight * normalized[f"scorer:{name}"]
            invalid |= ~np.isfinite(scores)
        for name, fltr, enabled in self.filters:
            if not enabled and self.off_zeroes_rewards:  # openvalidators' mock in the filter's slot
                mask, enabled = np.zeros(n), True
            else:
                mask = _vector(fltr(query, completions), n, f"filter '{name}'")
            raw[f"filter:{name}"] = normalized[f"filter:{name}"] = mask
            if enabled:
                combined = combined * mask
        combined[invalid] = 0.0
        return Rewards(combined, raw, normalized)

    def new_forward(self) -> None:
        for _, fltr, _ in self.filters:
            fltr.new_forward()

    def chosen(self, question: str, answer: str) -> None:
        for _, fltr, _ in self.filters:
            fltr.chosen(question, answer)

    def get_state(self) -> dict:
        return {"rng": self.rng.bit_generator.state,
                "scorers": {name: model.get_state() for name, model, _ in self.scorers},
                "normalizers": {name: normalizer.get_state() for name, normalizer in self.normalizers.items()},
                "filters": {name: fltr.get_state() for name, fltr, _ in self.filters}}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        for name, model, _ in self.scorers:
            model.set_state(state["scorers"][name])
        for name, normalizer in self.normalizers.items():
            normalizer.set_state(state["normalizers"][name])
        for name, fltr, _ in self.filters:
            fltr.set_state(state["filters"][name])


def _checked(found: registry.Component, params: dict[str, Any], where: str) -> None:
    """``params`` checked by name and type against ``found``'s parameters, or a UserError at ``where``."""
    try:
        registry.validate_params(found, params)
    except registry.ParamError as error:
        raise UserError(f"{where}: {error.message}") from None


def _check_unique(kind: str, names: list[str]) -> None:
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{kind} names must be unique; repeated: {', '.join(duplicates)}")


def _vector(values: np.ndarray, n: int, what: str) -> np.ndarray:
    """``values`` as a float64 vector of length ``n``, or a ValueError naming ``what`` gave it."""
    vector = np.array(values, dtype=np.float64).reshape(-1)  # a copy: the record must not alias the model's array
    if len(vector) != n:
        raise ValueError(f"{what} returned {len(vector)} values for {n} completions")
    return vector
