"""Two runs side by side: how their configs differ, key by key, then each step's summary figures and verdicts
with their deltas (a figure that changed, a verdict that flipped, an interval that moved).

``compare_runs(load_run(a), load_run(b))`` is what ``mirror-neuron compare`` prints (with
:func:`comparison_text`); a sweep's report compares its points the same way.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from mirror_neuron.report.model import RunView, StepView, cell_text, estimate_text, figure_text
from mirror_neuron.report.text import terminal_safe
from mirror_neuron.verdicts import Verdict, from_table


class _Absent:
    """What a run has where the other has a key, a figure or a verdict."""

    def __repr__(self) -> str:
        return "absent"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Change:
    """A config key whose value differs: ``a`` in the first run, ``b`` in the second (either may be ABSENT)."""

    key: str
    a: Any
    b: Any


@dataclass(frozen=True)
class FigureRow:
    """One summary figure of a step in both runs."""

    name: str
    a: Any
    b: Any

    @property
    def delta(self) -> float | None:
        """``b - a`` when both are numbers, else None."""
        if _number(self.a) and _number(self.b):
            return float(self.b) - float(self.a)
        return None

    @property
    def changed(self) -> bool:
        if self.delta is not None:
            return not (self.delta == 0 or (math.isnan(float(self.a)) and math.isnan(float(self.b))))
        return self.a != self.b


@dataclass(frozen=True)
class VerdictRow:
    """One subject's verdict in both runs (None where a run judged no such subject)."""

    subject: str
    a: Verdict | None
    b: Verdict | None

    @property
    def flipped(self) -> bool:
        return self.a is not None and self.b is not None and self.a.verdict != self.b.verdict

    @property
    def overlap(self) -> bool | None:
        """Whether the two intervals overlap; None unless both runs give a finite interval."""
        if self.a is None or self.b is None:
            return None
        a, b = self.a.interval, self.b.interval
        if not all(math.isfinite(x) for x in (a.low, a.high, b.low, b.high)):
            return None
        return a.low <= b.high and b.low <= a.high

    @property
    def changed(self) -> bool:
        if self.a is None or self.b is None:
            return True
        figures = [(self.a.estimate, self.b.estimate)] + [
            (getattr(self.a.interval, name), getattr(self.b.interval, name)) for name in ("low", "high", "level")]
        return self.flipped or not all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in figures)


@dataclass
class StepComparison:
    """A step id in both runs (either may lack it), its figures and its verdicts."""

    id: str
    a: StepView | None
    b: StepView | None
    figures: list[FigureRow]
    verdicts: list[VerdictRow]

    @property
    def same_output(self) -> bool:
        """Both runs link the same stored output (same fingerprint): nothing of it can differ."""
        return self.a is not None and self.b is not None and bool(self.a.fingerprint) \
            and self.a.fingerprint == self.b.fingerprint

    @property
    def state(self) -> str:
        """``only in A``, ``only in B``, ``the same stored output`` or ``outputs differ``."""
        if self.a is None or self.b is None:
            return "only in B" if self.a is None else "only in A"
        return "the same stored output" if self.same_output else "outputs differ"

    def shown(self, changed_only: bool) -> tuple[list[FigureRow], list[VerdictRow]]:
        """The figures and verdicts to show: all, or with ``changed_only`` those that differ."""
        return ([f for f in self.figures if f.changed or not changed_only],
                [v for v in self.verdicts if v.changed or not changed_only])


@dataclass
class Comparison:
    a: RunView
    b: RunView
    config: list[Change]
    steps: list[StepComparison]


def compare_runs(a: RunView, b: RunView) -> Comparison:
    """Compare run ``a`` with run ``b``: the config keys that differ, and every step either run has."""
    ids = [s.id for s in a.steps] + [s.id for s in b.steps if a.step(s.id) is None]
    return Comparison(a, b, config_changes(a, b), [_compare_step(i, a.step(i), b.step(i)) for i in ids])


def config_changes(a: RunView, b: RunView) -> list[Change]:
    """Every dotted key whose value differs between the runs' resolved configs (:func:`run_config`)."""
    return diff_config(run_config(a), run_config(b))


def diff_config(left: dict[str, Any], right: dict[str, Any]) -> list[Change]:
    """The keys of two flattened configs (:func:`flatten`) whose values differ, ``left``'s order first."""
    keys = list(left) + [k for k in right if k not in left]
    changes = [Change(k, left.get(k, ABSENT), right.get(k, ABSENT)) for k in keys
               if left.get(k, ABSENT) != right.get(k, ABSENT)]
    return [c for c in changes if not _emptied(c, left, right)]


def _emptied(change: Change, left: dict[str, Any], right: dict[str, Any]) -> bool:
    """An empty mapping on one side where the other side has keys below it: those keys tell the change."""
    other = right if change.a == {} else left if change.b == {} else None
    return other is not None and ABSENT in (change.a, change.b) and any(k.startswith(f"{change.key}.") for k in other)


def run_config(run: RunView) -> dict[str, Any]:
    """A run's config as dotted keys: ``experiment.seed``, then each step's resolved config (from its manifest,
    as it was fingerprinted) under its id: ``tournament.steps``, ``neuron.miners.echo``."""
    flat = flatten(run.experiment, "experiment")
    for step in run.steps:
        manifest = step.manifest
        if manifest:
            flat[f"{step.id}.entrypoint"] = manifest.get("entrypoint", step.entrypoint)
            flat.update(flatten(manifest.get("config") or {}, step.id))
    return flat


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """``value`` under ``prefix`` as dotted keys: mappings become keys; every other value (a list included)
    is one value."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, child in value.items():
            flat.update(flatten(child, f"{prefix}.{key}"))
        return flat
    return {prefix: value}


def _compare_step(step_id: str, a: StepView | None, b: StepView | None) -> StepComparison:
    left, right = (a.summary if a else {}), (b.summary if b else {})
    names = list(left) + [n for n in right if n not in left]
    figures = [FigureRow(n, left.get(n, ABSENT), right.get(n, ABSENT)) for n in names]
    verdicts_a, verdicts_b = _verdicts(a), _verdicts(b)
    subjects = list(verdicts_a) + [s for s in verdicts_b if s not in verdicts_a]
    verdicts = [VerdictRow(s, verdicts_a.get(s), verdicts_b.get(s)) for s in subjects]
    return StepComparison(step_id, a, b, figures, verdicts)


def _verdicts(step: StepView | None) -> dict[str, Verdict]:
    """Every verdict of the step by subject (the whole stored table, not only the rows a report shows)."""
    if step is None or step.verdicts is None:
        return {}
    frame = step.output.table("verdicts") if step.output is not None else step.verdicts.frame
    return {record.subject: record for record in from_table(frame)}


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# -- text -------------------------------------------------------------------------------------------------


def comparison_text(comparison: Comparison, changed_only: bool = False) -> str:
    """The comparison as aligned plain text: the config differences, then per step its figures (A, B and the
    delta) and its verdicts (A -> B, flipped or not, and whether the intervals overlap). ``changed_only``:
    leave out the figures and verdicts that are the same in both runs."""
    a, b = comparison.a, comparison.b
    lines = [terminal_safe(f"A: {a.name} ({a.out})"), terminal_safe(f"B: {b.name} ({b.out})"), ""]
    if comparison.config:
        lines.append(f"config: {len(comparison.config)} difference(s)")
        lines += _aligned([(c.key, _value(c.a), "->", _value(c.b)) for c in comparison.config])
    else:
        lines.append("config: the same")
    for step in comparison.steps:
        lines += ["", terminal_safe(_step_heading(step))]
        figures, verdicts = step.shown(changed_only)
        if figures:
            rows = [("figure", "A", "B", "delta")]
            rows += [(f.name, _value(f.a), _value(f.b), _delta(f.delta)) for f in figures]
            lines += _aligned(rows)
        if verdicts:
            rows = [("verdict of", "A", "", "B", "")]
            rows += [(v.subject, _verdict(v.a), "->", _verdict(v.b), verdict_change(v)) for v in verdicts]
            lines += _aligned(rows)
    return "\n".join(lines).rstrip() + "\n"


def _step_heading(step: StepComparison) -> str:
    shown = step.a or step.b
    kind = f"{shown.section} {shown.entrypoint}" if shown else ""
    if step.a is None or step.b is None:
        return f"step '{step.id}' ({kind}): {step.state}"
    if step.same_output:
        return f"step '{step.id}' ({kind}): {step.state} ({step.a.fingerprint[:12]})"
    return f"step '{step.id}' ({kind}): {step.a.fingerprint[:12]} -> {step.b.fingerprint[:12]}"


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as lines indented by two spaces, each column as wide as its widest cell (no control characters:
    a subject may be a miner's text)."""
    rows = [tuple(terminal_safe(cell) for cell in row) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def _value(value: Any) -> str:
    return "(absent)" if value is ABSENT else figure_text(value) if _number(value) else cell_text(value)


def _delta(delta: float | None) -> str:
    if delta is None or math.isnan(delta):
        return ""
    return "0" if delta == 0 else f"{delta:+.4g}"


def _verdict(record: Verdict | None) -> str:
    if record is None:
        return "(absent)"
    estimate = estimate_text(record)
    return f"{cell_text(record.verdict, 40)} {estimate}" if estimate else cell_text(record.verdict, 40)


def verdict_change(row: VerdictRow) -> str:
    """``flipped; intervals overlap``, ``intervals disjoint``, ... (empty when nothing can be said)."""
    notes = ["flipped"] if row.flipped else []
    if row.overlap is not None:
        notes.append("intervals overlap" if row.overlap else "intervals disjoint")
    return "; ".join(notes)
