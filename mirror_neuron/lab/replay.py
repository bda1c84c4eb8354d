"""Replay logged openvalidators events through the mirror's filters of the same version, and compare.

Each event's prompt and completions go through the filters in logged order, as the original's forward
fed them: every successful call's completion, stripped, with the step name; the blacklist hears which
question and answer each follow-up/answer pair kept (``best``) and forgets them when an ``augment`` step
starts a forward; the diversity history grows in the same order. Unsuccessful calls get 0, as the
original's ``apply`` gave them.

Whether a call succeeded is not logged. A non-empty completion did; for an empty one the log shows only
its time: in ``sn1_openvalidators`` every empty completion the validator scored took 9-10 s (just under
the 10 s timeout), while timeouts (10 s) and fast failures (under 9 s) were all zeroed, so an empty
completion counts as a success when its time lies in :data:`EMPTY_SUCCESS_S`. Decisions on empty
completions are reported apart from the non-empty ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mirror_neuron.analysis.metrics import spearman
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.neuron.reward.filters import Filter
from mirror_neuron.neuron.reward.filters.openvalidators import Version
from mirror_neuron.neuron.versions import MODEL_KEYS, preset
from mirror_neuron.steps.data.events import FILTER_COLUMNS, LoggedEvent

EMPTY_SUCCESS_S = (9.0, 10.0)  # [low, high): the times of the empty completions the logged validator scored
SOFT_TOLERANCE = 0.05  # a soft value agrees when within this of the logged one
SOFT_COLUMNS = ("diversity_reward_model",)


def succeeded(event: LoggedEvent) -> np.ndarray:
    """Per completion, whether its call succeeded: non-empty, or empty with a time in :data:`EMPTY_SUCCESS_S`."""
    low, high = EMPTY_SUCCESS_S
    empty = np.array([c.strip() == "" for c in event.completions])
    return ~empty | ((event.completion_times >= low) & (event.completion_times < high))


def version_filters(version: Version = "1.1", stand_in: str | None = "minilm", nsfw: str | None = None
                    ) -> list[Filter]:
    """The filters of the ``openvalidators-<version>`` preset, in its order: each embedding model replaced by
    ``stand_in`` (None: the originals' hub ids), the NSFW classifier by ``nsfw`` (None: left out, not checked)."""
    from mirror_neuron import registry

    filters = []
    for name, spec in preset(f"openvalidators-{version}")["reward"]["filters"].items():
        params = dict(spec)
        if name == "nsfw":
            if nsfw is None:
                continue
            params["path"] = nsfw
        elif stand_in is not None:
            params.update({key: stand_in for key in params if key in MODEL_KEYS})
        filters.append(registry.get("filter", name).load()(**params))
    return filters


def version_weights(version: Version = "1.1") -> dict[str, float]:
    """The ``openvalidators-<version>`` preset's scorer weights, by event column (``<scorer>_reward_model``)."""
    scorers = preset(f"openvalidators-{version}")["reward"]["scorers"]
    return {f"{name}_reward_model": float(spec["weight"]) for name, spec in scorers.items()}


@dataclass(frozen=True)
class Comparison:
    """One filter's replayed values against its logged column."""

    column: str
    agree: int  # over non-empty completions
    total: int
    empty_agree: int  # over empty completions (success inferred from the time)
    empty_total: int
    kept: int = 0  # non-empty completions the replay kept (hard filters: value 1)
    logged_kept: int = 0  # and the logged validator kept
    spearman: float | None = None  # soft values only: pooled over the non-empty completions
    off: bool = False  # not checked (no model given)


@dataclass(frozen=True)
class EmptyCalls:
    """What the log says about empty completions: how many, how many the validator scored, and how well
    their time tells which."""

    total: int
    scored: int  # logged as scored: a blacklist value of 1 (an empty text passes every rule-based filter)
    predicted: int  # in the success time window
    agree: int  # predicted == scored


@dataclass
class ReplayResult:
    comparisons: list[Comparison]
    empties: EmptyCalls
    scorers: list[tuple[str, str, float]] = field(default_factory=list)  # (scorer, logged column, Spearman)
    stand_ins: dict[str, str] = field(default_factory=dict)
    formula_difference: float = float("nan")


def event_query(event: LoggedEvent, version: Version, base_prompt: str | None) -> Query:
    """The query a filter of ``version`` saw: v1.1.3 compared with the prompt, v1.1.8 on with the base prompt."""
    return Query(("user",), (event.prompt,), question=event.question, name=event.name,
                 base_prompt=base_prompt if version == "1.2" else None)


def replayed_values(events: Sequence[LoggedEvent], filters: Sequence[Filter], version: Version = "1.1"
                    ) -> list[dict[str, np.ndarray]]:
    """Per event, each filter's values over all its completions (0 for unsuccessful calls), by column."""
    result = []
    best: dict[str, str] = {}  # the kept completion of this forward's steps, by step name
    for event in events:
        if event.name == "augment":
            best = {}
            for fltr in filters:
                fltr.new_forward()
        base = event.prompt if event.name == "augment" else best.get(_base_step(event.name))
        query = event_query(event, version, base)
        ok = succeeded(event)
        texts = [c.strip() for c, good in zip(event.completions, ok) if good]
        values = {}
        for fltr in filters:
            filled = np.zeros(len(event.completions))
            filled[ok] = fltr(query, texts)
            values[fltr.column] = filled
        result.append(values)
        best[event.name] = event.best
        if event.name.startswith("answer"):
            question = best.get("followup" + event.name[len("answer"):], "")
            for fltr in filters:
                fltr.chosen(question, event.best)
    return result


def _base_step(name: str) -> str:
    """The step whose best is step ``name``'s base prompt from v1.1.8 on."""
    return "augment" if name.startswith("followup") else "followup" + name[len("answer"):]


def formula_difference(events: Sequence[LoggedEvent], weights: dict[str, float]) -> float:
    """The largest difference between the logged rewards and the weighted sum of the logged scorer columns
    times every logged filter column."""
    largest = 0.0
    for event in events:
        combined = sum(weight * event.components[column] for column, weight in weights.items())
        for column in FILTER_COLUMNS:
            combined = combined * event.components[column]
        largest = max(largest, float(np.abs(combined - event.rewards).max()))
    return largest


def replay(events: Sequence[LoggedEvent], filters: Sequence[Filter], version: Version = "1.1",
           weights: dict[str, float] | None = None, scorer: RewardModelBase | None = None, scorer_name: str = ""
           ) -> ReplayResult:
    """Replay ``events`` through ``filters`` and compare with the logged values (see the module docstring);
    the formula check weighs the logged scorer columns by ``weights`` (default: the version's preset)."""
    values = replayed_values(events, filters, version)
    empty = np.concatenate([[c.strip() == "" for c in e.completions] for e in events])
    comparisons = []
    for column in FILTER_COLUMNS:
        logged = np.concatenate([e.components[column] for e in events])
        if column not in values[0]:
            comparisons.append(Comparison(column, 0, int((~empty).sum()), 0, int(empty.sum()), off=True))
            continue
        mine = np.concatenate([v[column] for v in values])
        soft = column in SOFT_COLUMNS
        same = np.abs(mine - logged) <= SOFT_TOLERANCE if soft else mine == logged
        rho = spearman(logged[~empty], mine[~empty]) if soft else None
        comparisons.append(Comparison(column, int(same[~empty].sum()), int((~empty).sum()),
                                      int(same[empty].sum()), int(empty.sum()), int((mine[~empty] == 1).sum()),
                                      int((logged[~empty] == 1).sum()), rho))
    predicted = np.concatenate([succeeded(e) for e in events])[empty]
    scored = np.concatenate([e.components["blacklist_filter"] for e in events])[empty] == 1
    result = ReplayResult(comparisons, EmptyCalls(int(empty.sum()), int(scored.sum()), int(predicted.sum()),
                                                  int((predicted == scored).sum())))
    for fltr in filters:
        result.stand_ins.update(fltr.stand_ins())
    if scorer is not None:
        result.scorers = scorer_correlations(events, scorer, scorer_name or type(scorer).__name__)
    result.formula_difference = formula_difference(events, version_weights(version) if weights is None else weights)
    return result


def scorer_correlations(events: Sequence[LoggedEvent], scorer: RewardModelBase, name: str
                        ) -> list[tuple[str, str, float]]:
    """Spearman correlation of ``scorer``'s scores of the non-empty completions with each logged scorer column."""
    prompts = [e.prompt for e in events for c in e.completions if c.strip()]
    texts = [c.strip() for e in events for c in e.completions if c.strip()]
    scores = np.asarray(scorer.score(prompts, texts), dtype=np.float64)
    result = []
    for column in ("rlhf_reward_model", "reciprocate_reward_model"):
        logged = np.concatenate([e.components[column][[bool(c.strip()) for c in e.completions]] for e in events])
        result.append((name, column, spearman(logged, scores)))
    return result


def report_lines(result: ReplayResult) -> list[str]:
    """The agreement table: one ``<column>: agree K/N`` line per filter over non-empty completions, then the
    empty completions, the soft values' correlations, the scorers, the stand-ins and the formula check."""
    lines = []
    for c in result.comparisons:
        if c.off:
            lines.append(f"{c.column}: off: not checked")
            continue
        within = (f" (within {SOFT_TOLERANCE})" if c.spearman is not None
                  else f" (kept {c.kept}, logged {c.logged_kept})")
        lines.append(f"{c.column}: agree {c.agree}/{c.total}{within}")
    e = result.empties
    lines.append(f"empty completions: {e.total}; scored by the validator {e.scored}; success inferred from the "
                 f"time ({EMPTY_SUCCESS_S[0]:g}-{EMPTY_SUCCESS_S[1]:g} s) {e.predicted}, matching {e.agree}/{e.total}")
    lines += [f"{c.column} on empty completions: agree {c.empty_agree}/{c.empty_total}"
              for c in result.comparisons if not c.off]
    lines += [f"{c.column}: spearman {c.spearman:.3f} over non-empty completions"
              for c in result.comparisons if c.spearman is not None]
    lines += [f"scorer {name} vs {column}: spearman {rho:.3f}" for name, column, rho in result.scorers]
    shown = ", ".join(f"{original} -> {used}" for original, used in result.stand_ins.items()) or "none"
    lines.append(f"stand-ins: {shown}")
    lines.append(f"reward formula: largest difference {result.formula_difference:.2g}")
    return lines
