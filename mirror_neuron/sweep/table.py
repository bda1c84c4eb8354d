"""``points.parquet``: one row per point of a sweep, read from each point's run folder.

Columns: ``point``, ``name`` and ``label``; each swept key (as the sweep spells it, a value that is not a plain
number, string or boolean as JSON text); ``reused_whole``, ``seconds`` and ``steps/<status>`` counts; every
summary figure as ``<step id>/<figure>`` (by name within each step); every verdict as
``<step id>/verdict/<subject>``; and ``verdicts/<verdict>``, how many subjects of the point got that verdict.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from mirror_neuron.sweep.spec import Point, value_text

POINTS_FILE = "points.parquet"
VERDICTS_TABLE = "verdicts.parquet"
VERDICT = "verdict"  # <step id>/verdict/<subject>
VERDICT_COUNTS = "verdicts/"  # verdicts/<verdict>
STATUSES = ("computed", "resumed", "reused")  # steps/<status>: how many of the point's steps were


def point_row(point: Point, point_out: Path, reused: bool = False) -> dict[str, Any]:
    """The row of ``point`` from its run folder (``run.json`` and the verdict tables its step links lead to)."""
    import pandas as pd

    index = json.loads((point_out / "run.json").read_text(encoding="utf-8"))
    steps = index.get("steps", [])
    row: dict[str, Any] = {"point": point.index, "name": point.name, "label": point.label(), **point.values,
                           "reused_whole": reused, "seconds": float(sum(s.get("seconds") or 0 for s in steps))}
    statuses = Counter(s["status"] for s in steps)
    row.update({f"steps/{status}": statuses[status] for status in STATUSES})
    counts: Counter[str] = Counter()
    for step in steps:
        for key, value in sorted((step.get("summary") or {}).items()):  # one order, computed or reused
            row[f"{step['id']}/{key}"] = value
        verdicts = point_out / step["path"] / VERDICTS_TABLE
        if verdicts.is_file():
            for record in pd.read_parquet(verdicts, columns=["subject", "verdict"]).itertuples():
                row[f"{step['id']}/{VERDICT}/{record.subject}"] = str(record.verdict)
                counts[str(record.verdict)] += 1
    row.update({f"{VERDICT_COUNTS}{verdict}": count for verdict, count in sorted(counts.items())})
    return row


def points_frame(rows: list[dict[str, Any]], keys: list[str]) -> Any:
    """The rows as one frame, in point order; each swept key's column one type (see the module's docstring)."""
    import pandas as pd

    frame = pd.DataFrame(sorted(rows, key=lambda row: row["point"]))
    for key in keys:
        if key in frame and not _plain(list(frame[key])):
            frame[key] = [value_text(value) for value in frame[key]]
    counts = [c for c in frame.columns if c.startswith((VERDICT_COUNTS, "steps/"))]
    frame[counts] = frame[counts].fillna(0).astype(int)
    return frame


def write_points(out: Path, frame: Any) -> Path:
    """Write ``points.parquet`` whole or not at all."""
    path = out / POINTS_FILE
    temporary = out / f".{POINTS_FILE}.tmp-{os.getpid()}"
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, path)
    return path


def _plain(values: list[Any]) -> bool:
    """Whether the values are all numbers, all strings or all booleans (a column Parquet keeps as it is)."""
    kinds = {bool if isinstance(v, bool) else float if isinstance(v, (int, float)) else type(v) for v in values}
    return len(kinds) == 1 and kinds <= {bool, float, str}
