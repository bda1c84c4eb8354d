"""The analysis entry's config, in the clean form below (its parts: :mod:`mirror_neuron.analysis.spec`);
the original tool's loose shapes are rewritten into it by :meth:`AnalysisConfig.normalize`.

Clean form::

    analysis:
      id: my_analysis
      requires: [my_query]              # one query (or any step with a data table)
      compute:                          # features (see `mirror-neuron ls`) and embeddings
        - question_length
        - {id: my_embedding, type: sentence, path: minilm, text: question}
      estimators:
        - {id: gbr, name: GradientBoostingRegressor, args: {n_estimators: 100}}
      predict:
        - {target: loss, x: [my_embedding], estimator: gbr}   # x: features, embedding ids, `embedding`
      plot:
        - {target: loss, features: [question_length]}
      folds: 5                          # cross-validation folds (grouped by prompt when needed)
      bootstrap: 1000                   # resamples for the 95% intervals
      importance_repeats: 5             # shuffles per input and fold for permutation importance
      seed: null                        # default: experiment.seed

Loose shapes accepted as the original wrote them: ``- embedding:`` followed by the embedding's keys,
``- gbr:`` followed by ``name``/``args``, ``- loss:`` followed by ``x``/``estimator``, and
``- loss: [features]`` under ``plot``. Mappings keyed by id or target work too
(``estimators: {gbr: {name: ...}}``, ``predict: {loss: {x: ..., estimator: ...}}``, ``plot: {loss: [...]}``).
"""

from __future__ import annotations

from typing import Any

from mirror_neuron.analysis.spec import EMBEDDING, AnalysisSpec, EstimatorSpec, PlotSpec, PredictSpec
from mirror_neuron.seeds import Seed
from mirror_neuron.steps.base import StepConfig


class AnalysisConfig(AnalysisSpec, StepConfig):
    """An analysis entry (see the module docstring for the clean form)."""

    seed: Seed | None = None

    @classmethod
    def normalize(cls, raw: dict[str, Any]) -> dict[str, Any]:
        """Rewrite the original tool's loose list items (see the module docstring) into the clean form."""
        raw = dict(raw)
        if isinstance(raw.get("compute"), list):
            raw["compute"] = [_embedding(item) for item in raw["compute"]]
        for key, name_key, fields in (("estimators", "id", EstimatorSpec.model_fields),
                                      ("predict", "target", PredictSpec.model_fields)):
            if isinstance(raw.get(key), dict):
                raw[key] = [{name_key: name, **(value if isinstance(value, dict) else {})}
                            for name, value in raw[key].items()]
            if isinstance(raw.get(key), list):
                raw[key] = [_named(item, name_key, fields) for item in raw[key]]
        plot = raw.get("plot")
        if isinstance(plot, dict):
            plot = [{name: value} for name, value in plot.items()]
        if isinstance(plot, list):
            raw["plot"] = [_plot(item) for item in plot]
        return raw


def _embedding(item: Any) -> Any:
    """``embedding`` or ``{embedding: None | {...} | path, <keys>}`` -> an embedding spec mapping."""
    if item == EMBEDDING:
        return {}
    if isinstance(item, dict) and EMBEDDING in item:
        item = dict(item)
        value = item.pop(EMBEDDING)
        if isinstance(value, dict):
            item = {**value, **item}
        elif isinstance(value, str):
            item.setdefault("path", value)
    return item


def _named(item: Any, name_key: str, fields: dict[str, Any]) -> Any:
    """``{gbr: None, name: ...}`` or ``{gbr: {name: ...}}`` -> ``{id: gbr, name: ...}``."""
    if not isinstance(item, dict) or name_key in item:
        return item
    loose = [key for key, value in item.items() if key not in fields and (value is None or isinstance(value, dict))]
    if len(loose) != 1:
        return item
    item = dict(item)
    value = item.pop(loose[0])
    return {name_key: loose[0], **(value or {}), **item}


def _plot(item: Any) -> Any:
    """``loss``, ``{loss: [features]}`` or ``{loss: None, features: [...]}`` -> ``{target, features}``."""
    if isinstance(item, str):
        return {"target": item}
    if isinstance(item, dict) and "target" not in item:
        loose = [key for key in item if key not in PlotSpec.model_fields]
        if len(loose) == 1:
            item = dict(item)
            value = item.pop(loose[0])
            return {"target": loose[0], **({"features": value} if value is not None else {}), **item}
    return item
