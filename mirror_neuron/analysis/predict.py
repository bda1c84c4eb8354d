"""Cross-validated prediction of one target: out-of-fold predictions from an estimator and from a
length-only baseline, metrics with bootstrap confidence intervals, permutation importance, a verdict.

Folds are grouped by prompt when a prompt has several rows, so no prompt is on both sides of a split.
Inputs are standardized inside each fold. Permutation importance is measured on held-out folds: the
drop in R² (classifiers: accuracy) when one input (a scalar feature, or a whole embedding) is shuffled.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mirror_neuron.analysis import metrics as m
from mirror_neuron.analysis.estimators import captured, is_classifier
from mirror_neuron.analysis.judge import Scores, analysed_text, describe_inputs, describe_lengths, verdict
from mirror_neuron.verdicts import Interval, Verdict

MAX_CLASSES = 20  # a classifier's target with more distinct values is taken as continuous


@dataclass
class Design:
    """An input matrix and the columns of each named input (a feature: one; an embedding: many)."""

    matrix: np.ndarray
    blocks: dict[str, slice]


@dataclass
class Task:
    name: str  # how tables and the summary name this prediction (the target, made unique)
    target: str
    y: np.ndarray
    x: Design
    baseline: Design  # the length features of the scored text(s)
    groups: np.ndarray
    estimator: Any  # unfitted
    estimator_id: str


@dataclass
class Settings:
    folds: int = 5
    bootstrap: int = 1000
    repeats: int = 5  # permutation-importance shuffles per input and fold
    seed: int = 0


@dataclass
class Outcome:
    predicted: np.ndarray  # out-of-fold, one per row of the task
    baseline_predicted: np.ndarray
    metrics: list[dict[str, Any]]
    importance: list[dict[str, Any]]
    verdict: Verdict  # the model's score as estimate, the baseline's and the gain in evidence
    log: str = ""
    folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


def splits(groups: np.ndarray, folds: int, seed: int,
           classes: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices; grouped when a group has several rows, stratified for classes."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    distinct = len(np.unique(groups))
    grouped = distinct < len(groups)
    k = min(folds, distinct)
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 {'prompts' if grouped else 'rows'}, got {distinct}")
    if classes is not None and np.unique(classes, return_counts=True)[1].min() >= k:
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed) if grouped else \
            StratifiedKFold(k, shuffle=True, random_state=seed)
    else:
        splitter = GroupKFold(k, shuffle=True, random_state=seed) if grouped else \
            KFold(k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(groups)), classes, groups if grouped else None))


def evaluate(task: Task, settings: Settings) -> Outcome:
    """Fit, predict out of fold, score with intervals, and judge one task."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    classify = is_classifier(task.estimator)
    y = task.y
    if classify:
        if len(np.unique(y)) > MAX_CLASSES or not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{type(task.estimator).__name__} is a classifier, but '{task.target}' has "
                             f"{len(np.unique(y))} distinct values; use a regressor, "
                             "or a class target such as 'correct'")
        if len(np.unique(y)) < 2:
            raise ValueError(f"'{task.target}' has one class only; nothing to classify")
    folds = splits(task.groups, settings.folds, settings.seed, y if classify else None)
    log = io.StringIO()
    rng = np.random.default_rng(settings.seed)
    fitted = _out_of_fold(task.estimator, task.x, y, folds, classify, log, rng, settings.repeats)
    baseline_estimator = LogisticRegression(max_iter=1000) if classify else LinearRegression()
    base = _out_of_fold(baseline_estimator, task.baseline, y, folds, classify, log, None, 0)
    baseline_label = describe_lengths(list(task.baseline.blocks))
    model_label = f"{type(task.estimator).__name__} on {describe_inputs(list(task.x.blocks))}"
    table, judged = _score(task, y, fitted, base, settings, classify, model_label, baseline_label)
    importance = [{"target": task.name, "model": task.estimator_id, "input": name,
                   "kind": "feature" if block.stop - block.start == 1 else "embedding",
                   "importance": float(np.mean(drops)), "std": float(np.std(drops))}
                  for name, block in task.x.blocks.items() for drops in [fitted["importance"][name]]]
    return Outcome(fitted["predicted"], base["predicted"], table, importance, judged, log.getvalue(), folds)


def _out_of_fold(estimator: Any, design: Design, y: np.ndarray, folds: list, classify: bool, log: io.StringIO,
                 rng: np.random.Generator | None, repeats: int) -> dict[str, Any]:
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = design.matrix
    predicted = np.empty(len(y))
    scores = np.full(len(y), np.nan)
    drops: dict[str, list[float]] = {name: [] for name in design.blocks}
    for train, test in folds:
        model = make_pipeline(StandardScaler(), clone(estimator))
        with captured(log):
            model.fit(x[train], y[train])
        predicted[test] = model.predict(x[test])
        if classify and len(np.unique(y)) == 2 and hasattr(model, "predict_proba"):
            scores[test] = model.predict_proba(x[test])[:, list(model.classes_).index(np.max(y))]
        if rng is None:
            continue
        metric = m.accuracy if classify else m.r2
        reference = metric(y[test], predicted[test])
        for name, block in design.blocks.items():
            for _ in range(repeats):
                shuffled = x[test].copy()
                shuffled[:, block] = shuffled[rng.permutation(len(test))][:, block]
                drops[name].append(reference - metric(y[test], model.predict(shuffled)))
    return {"predicted": predicted, "scores": scores, "importance": drops}


def _score(task: Task, y: np.ndarray, fitted: dict, base: dict, settings: Settings, classify: bool,
           model_label: str, baseline_label: str) -> tuple[list[dict[str, Any]], Verdict]:
    if classify:
        positive = np.max(y)
        metrics: dict[str, m.Metric] = {"accuracy": m.accuracy}
        inputs = {"model": {"accuracy": fitted["predicted"]}, "baseline": {"accuracy": base["predicted"]}}
        if np.isfinite(fitted["scores"]).all() and np.isfinite(base["scores"]).all():
            metrics["roc_auc"] = lambda truth, scores: m.roc_auc((truth == positive).astype(int), scores)
            inputs["model"]["roc_auc"], inputs["baseline"]["roc_auc"] = fitted["scores"], base["scores"]
    else:
        metrics = dict(m.REGRESSION)
        inputs = {label: {name: result["predicted"] for name in metrics}
                  for label, result in (("model", fitted), ("baseline", base))}
    draws = m.bootstrap(y, inputs, metrics, task.groups, settings.bootstrap, settings.seed)
    grouped = len(np.unique(task.groups)) < len(task.groups)
    rows = []
    for label, model_id, name in (("model", task.estimator_id, model_label),
                                  ("baseline", "length_baseline", baseline_label)):
        row: dict[str, Any] = {"target": task.name, "model": model_id, "description": name, "rows": len(y),
                               "folds": settings.folds, "grouped": grouped}
        for metric, function in metrics.items():
            row[metric] = function(y, inputs[label][metric])
            row[f"{metric}_low"], row[f"{metric}_high"] = m.interval(draws[label][metric])
        rows.append(row)
    main = "roc_auc" if "roc_auc" in metrics else ("accuracy" if classify else "r2")
    chance = 0.5 if main == "roc_auc" else (float(np.mean(y == _majority(y))) if classify else 0.0)
    fitted_scores, length_scores = (Scores(r[main], r[f"{main}_low"], r[f"{main}_high"]) for r in rows)
    gain = Scores(fitted_scores.value - length_scores.value,
                  *m.interval(draws["model"][main] - draws["baseline"][main]))
    shown = {"r2": "R²", "roc_auc": "ROC AUC", "accuracy": "accuracy"}[main]
    label, sentence = verdict(task.target, model_label, baseline_label, shown, chance, fitted_scores,
                              length_scores, gain, analysed_text(list(task.baseline.blocks)))
    judged = Verdict(task.name, label, sentence, fitted_scores.value,
                     Interval(fitted_scores.low, fitted_scores.high, m.LEVEL),
                     {"model": task.estimator_id, "metric": main, "value": fitted_scores.value,
                      "low": fitted_scores.low, "high": fitted_scores.high, "baseline": length_scores.value,
                      "baseline_low": length_scores.low, "baseline_high": length_scores.high, "gain": gain.value,
                      "gain_low": gain.low, "gain_high": gain.high})
    return rows, judged


def _majority(y: np.ndarray) -> Any:
    values, counts = np.unique(y, return_counts=True)
    return values[np.argmax(counts)]
