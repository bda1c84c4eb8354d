"""A sweep's plots: a summary figure as a heatmap over two swept keys and as lines over one, and the verdict
counts of every point (drawn with :mod:`mirror_neuron.figures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mirror_neuron.figures import figure
from mirror_neuron.sweep.table import VERDICT_COUNTS
from mirror_neuron.verdicts import tone

TONE_COLOURS = {"alarm": "#c62828", "caution": "#ef8f00", "quiet": "#9aa4ae", "broken": "#3d4650",
                "good": "#2e9d4f", "notable": "#1f6fb5", None: "#6b5ca5"}  # the report's badge colours


def heatmap(frame: Any, value: str, x: str, y: str, path: Path) -> Path:
    """The mean of ``value`` for each pair of values of keys ``x`` and ``y`` (over the other keys and seeds)."""
    table = frame.pivot_table(index=y, columns=x, values=value, aggfunc="mean", sort=False)
    with figure(path) as axes:
        image = axes.imshow(table.to_numpy(dtype=float), cmap="viridis", aspect="auto")
        axes.figure.colorbar(image, ax=axes, label=_short(value))
        axes.set_xticks(range(len(table.columns)), [_short(str(c), 24) for c in table.columns], rotation=20,
                        ha="right")
        axes.set_yticks(range(len(table.index)), [_short(str(i), 24) for i in table.index])
        axes.set_xlabel(_short(x))
        axes.set_ylabel(_short(y))
        for row, values in enumerate(table.to_numpy(dtype=float)):
            for column, number in enumerate(values):
                axes.text(column, row, f"{number:.3g}", ha="center", va="center", color="white", fontsize=9)
        axes.set_title(_short(value, 60), fontsize=10)
    return path


def lines(frame: Any, value: str, x: str, hue: str | None, path: Path) -> Path:
    """``value`` over the values of key ``x``: the mean, with bars from the lowest to the highest point
    (seeds and other keys), one line per value of ``hue``."""
    order = list(dict.fromkeys(frame[x]))
    positions = {item: number for number, item in enumerate(order)}
    groups = frame.groupby(hue, sort=False) if hue else [(None, frame)]
    with figure(path) as axes:
        for label, group in groups:
            stats = group.groupby(x, sort=False)[value].agg(["mean", "min", "max"])
            where = [positions[item] for item in stats.index]
            axes.errorbar(where, stats["mean"], yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                          marker="o", capsize=3, label=None if hue is None else _short(f"{hue}={label}", 40))
        axes.set_xticks(range(len(order)), [_short(str(item), 24) for item in order], rotation=20, ha="right")
        axes.set_xlabel(_short(x))
        axes.set_ylabel(_short(value))
        if hue:
            axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
    return path


def verdict_counts(frame: Any, path: Path) -> Path | None:
    """Stacked bars: how many subjects of each point got each verdict (None when no point has verdicts)."""
    columns = [c for c in frame.columns if c.startswith(VERDICT_COUNTS)]
    if not columns:
        return None
    with figure(path, size=(max(6.4, 0.4 * len(frame)), 4.0)) as axes:
        bottom = [0] * len(frame)
        for column in columns:
            verdict = column[len(VERDICT_COUNTS):]
            counts = list(frame[column])
            axes.bar(list(frame["name"]), counts, bottom=bottom, label=verdict, color=TONE_COLOURS[tone(verdict)])
            bottom = [b + c for b, c in zip(bottom, counts)]
        axes.set_ylabel("subjects")
        axes.tick_params(axis="x", rotation=60, labelsize=8)
        axes.legend(fontsize=8)
        axes.set_title("verdicts per point", fontsize=10)
    return path


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else "..." + text[-(limit - 3):]
