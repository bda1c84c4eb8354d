"""PNG figures of an analysis: a target against a feature (scatter with a binned trend), predicted
against actual values, and a target's distribution (drawn as :mod:`mirror_neuron.figures` draws)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mirror_neuron.analysis.metrics import spearman
from mirror_neuron.figures import figure

BINS = 10


def file_name(*parts: str) -> str:
    """A safe PNG file name from its parts (``loss``, ``vs``, ``num_words`` -> ``loss_vs_num_words.png``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join(parts)) + ".png"


def binned_trend(x: np.ndarray, y: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Mean x and mean y in up to ``bins`` quantile bins of x (fewer when x has few distinct values)."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return np.array([x.mean()]), np.array([y.mean()])
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(which)
    return (np.array([x[which == b].mean() for b in used]), np.array([y[which == b].mean() for b in used]))


def target_vs_feature(path: Path, x: np.ndarray, y: np.ndarray, feature: str, target: str) -> None:
    with figure(path) as axes:
        axes.scatter(x, y, s=10, alpha=0.4, color="tab:blue", label="rows")
        trend_x, trend_y = binned_trend(x, y)
        axes.plot(trend_x, trend_y, "-o", color="tab:red", label="mean per bin")
        rho = spearman(x, y)
        axes.set(xlabel=feature, ylabel=target, title=f"{target} by {feature} (Spearman {rho:.2f})")
        axes.legend(loc="best", fontsize=8)


def predicted_vs_actual(path: Path, y: np.ndarray, predictions: dict[str, np.ndarray], target: str) -> None:
    """Out-of-fold predictions of each model (label -> values) against the actual target."""
    with figure(path) as axes:
        for (label, values), color in zip(predictions.items(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
            axes.scatter(y, values, s=10, alpha=0.5, color=color, label=label)
        low, high = float(np.min(y)), float(np.max(y))
        axes.plot([low, high], [low, high], "--", color="gray", linewidth=1, label="perfect")
        axes.set(xlabel=f"actual {target}", ylabel=f"predicted {target} (out of fold)",
                 title=f"{target}: predicted vs actual")
        axes.legend(loc="best", fontsize=8)


def distribution(path: Path, values: np.ndarray, target: str) -> None:
    with figure(path) as axes:
        axes.hist(values, bins=min(40, max(5, len(np.unique(values)))), color="tab:blue", alpha=0.8)
        axes.axvline(float(np.mean(values)), color="tab:red", linestyle="--", label=f"mean {np.mean(values):.3g}")
        axes.set(xlabel=target, ylabel="rows", title=f"distribution of {target} ({len(values)} rows)")
        axes.legend(loc="best", fontsize=8)
