"""How steps draw their PNG plots: matplotlib's Agg backend (no display needed), 6.4x4 in at 100 dpi,
figures always closed. Matplotlib is imported only when a plot is drawn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SIZE = (6.4, 4.0)
DPI = 100


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def figure(path: Path, size: tuple[float, float] = SIZE) -> Iterator[Any]:
    """Axes to draw on; on leaving the block the figure is laid out, saved to ``path`` and closed."""
    plt = pyplot()
    drawn, axes = plt.subplots(figsize=size, dpi=DPI)
    try:
        yield axes
        drawn.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        drawn.savefig(path)
    finally:
        plt.close(drawn)
