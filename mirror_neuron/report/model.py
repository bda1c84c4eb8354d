"""What a report shows, gathered from stored outputs alone: ``<run>/run.json`` and the step links.

The HTML page, the Markdown page and the verdicts printed at the end of a run all read this one
:class:`RunView`, so they never disagree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mirror_neuron.errors import UserError, did_you_mean
from mirror_neuron.neuron.versions import describe
from mirror_neuron.store import StepOutput, check_output
from mirror_neuron.verdicts import COLUMNS, Verdict, from_table

RUN_INDEX = "run.json"
VERDICTS = "verdicts"
FULL_TABLE_ROWS = 50  # tables up to this many rows are shown whole
FIRST_ROWS = 10  # bigger tables: their first rows
CELL_CHARS = 80
SENTENCE_CHARS = 1000
LEAD_PLOTS = ("weight_per_uid", "weight_share")  # a judging step's plots that come first, beside its verdicts


@dataclass
class TableView:
    """A stored table as the report shows it: whole when small, else its first rows."""

    name: str
    rows: int
    frame: Any  # pandas.DataFrame

    @property
    def complete(self) -> bool:
        return len(self.frame) >= self.rows


@dataclass
class StepView:
    """One step of the run: its run.json entry, and its stored output when the link still leads to it."""

    id: str
    section: str
    entrypoint: str
    status: str
    fingerprint: str
    rows: dict[str, int]
    seconds: float | None
    summary: dict[str, Any]
    run_started_at: str = ""  # when the run that recorded this step started
    output: StepOutput | None = None
    problem: str = ""  # why the stored output could not be read
    verdicts: TableView | None = None
    tables: list[TableView] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.output.manifest if self.output else {}

    @property
    def validator(self) -> list[str]:
        """For a step that built a neuron: what it mirrors, its deviations, stand-ins and bugs (else empty)."""
        config = self.manifest.get("config") or {}
        return describe(config) if "validator" in config else []

    @property
    def records(self) -> list[Verdict]:
        """The verdicts shown (all, or the first of many), as records; empty when the step wrote none."""
        return from_table(self.verdicts.frame) if self.verdicts is not None else []

    def dataframe(self, name: str | None = None) -> Any:  # -> pandas.DataFrame
        """Stored table ``name`` whole (default: ``data``, else the step's only table besides its verdicts)."""
        output = self._stored()
        if name is None:
            others = [t for t in output.rows if t != VERDICTS]
            name = "data" if "data" in output.rows else others[0] if len(others) == 1 else ""
            if not name:
                raise UserError(f"step '{self.id}' has the tables {', '.join(output.rows)}; name one")
        if name not in output.rows:
            raise UserError(f"step '{self.id}' has no table '{name}'{did_you_mean(name, output.rows)}; its tables "
                            f"are {', '.join(output.rows) or 'none'}")
        return output.table(name)

    def dataframes(self) -> dict[str, Any]:  # -> dict[str, pandas.DataFrame]
        """Every stored table of the step, whole, by name."""
        return {name: self._stored().table(name) for name in self._stored().rows}

    def _stored(self) -> StepOutput:
        if self.output is None:
            raise UserError(f"step '{self.id}' has no stored output to read: {self.problem}")
        return self.output

    @property
    def lead_plots(self) -> list[Path]:
        """The plots shown first with the verdicts (a tournament's weight over time), in :data:`LEAD_PLOTS` order."""
        if self.verdicts is None:
            return []
        return sorted((p for p in self.plots if p.stem in LEAD_PLOTS), key=lambda p: LEAD_PLOTS.index(p.stem))


@dataclass
class RunView:
    """A whole run: the experiment, the run's facts and its steps (those of earlier runs into the folder too), in
    the experiment's order."""

    out: Path
    index: dict[str, Any]
    steps: list[StepView]

    @property
    def experiment(self) -> dict[str, Any]:
        return self.index.get("experiment") or {}

    @property
    def name(self) -> str:
        return str(self.experiment.get("name") or self.out.name)

    def step(self, step_id: str) -> StepView | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def __getitem__(self, step_id: str) -> StepView:
        step = self.step(step_id)
        if step is None:
            ids = [s.id for s in self.steps]
            raise KeyError(f"no step '{step_id}' in {self.out}{did_you_mean(step_id, ids)}; its steps are "
                           f"{', '.join(ids)}")
        return step

    @property
    def manifests(self) -> dict[str, dict[str, Any]]:
        """Each step's manifest (resolved config, fingerprints, times, files) by step id; empty when its stored
        output is gone."""
        return {s.id: s.manifest for s in self.steps}

    def verdicts(self) -> Any:  # -> pandas.DataFrame
        """Every step's stored verdicts, whole, in one table: ``step``, then the verdicts table's columns."""
        import pandas as pd

        frames = [s.dataframe(VERDICTS).assign(step=s.id) for s in self.steps
                  if s.output is not None and VERDICTS in s.output.rows]
        if not frames:
            return pd.DataFrame(columns=["step", *COLUMNS])
        frame = pd.concat(frames, ignore_index=True)
        return frame[["step", *(c for c in frame.columns if c != "step")]]

    def earlier(self, step: StepView) -> str:
        """When the earlier run that recorded ``step`` started; empty for a step of the latest run."""
        latest = str(self.index.get("started_at") or "")
        return step.run_started_at if step.run_started_at and step.run_started_at != latest else ""

    @property
    def not_run(self) -> list[str]:
        """Planned steps the run did not reach (it stopped early)."""
        done = {s.id for s in self.steps}
        return [i for i in self.index.get("planned") or [] if i not in done]


def load_run(out: Path) -> RunView:
    """Read the run at ``out``; a missing or unreadable folder or run.json, or a step output that no longer
    matches its manifest, raises :class:`UserError`."""
    out = Path(out)
    if not out.is_dir():
        raise UserError(f"{out}: no such run folder (the output folder of `mirror-neuron run`, e.g. runs/dummy)")
    index_path = out / RUN_INDEX
    if not index_path.is_file():
        raise UserError(f"{out}: no {RUN_INDEX} here; is it the output folder of a `mirror-neuron run`?")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(f"{index_path}: not a readable run index ({' '.join(str(error).split())})") from None
    if not isinstance(index, dict) or not isinstance(index.get("steps"), list) \
            or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in index["steps"]):
        raise UserError(f"{index_path}: not a run index (expected an object with a list of steps)")
    return RunView(out, index, [_load_step(out, entry) for entry in index["steps"]])


def _load_step(out: Path, entry: dict[str, Any]) -> StepView:
    step = StepView(
        id=entry["id"], section=str(entry.get("section", "")), entrypoint=str(entry.get("entrypoint", "")),
        status=str(entry.get("status", "")), fingerprint=str(entry.get("fingerprint", "")),
        rows=dict(entry.get("rows") or {}), seconds=entry.get("seconds"), summary=dict(entry.get("summary") or {}),
        run_started_at=str(entry.get("run_started_at") or ""))
    link = out / str(entry.get("path") or entry["id"])
    if not link.is_dir():
        step.problem = f"the stored output is gone: {link} does not lead to a finished output"
        return step
    problems = check_output(link.resolve())
    if problems:
        raise UserError(f"the stored output of step '{step.id}' is damaged: {problems[0]}; rerun the experiment "
                        "to set it aside and compute it again (`mirror-neuron verify` checks the whole store)",
                        where=str(link))
    output = StepOutput(link)
    if step.fingerprint and output.fingerprint != step.fingerprint:
        step.problem = (f"{link} now leads to another output ({output.fingerprint[:12]}), "
                        "written by a later run; its content is shown")
    step.output = output
    step.rows = dict(output.rows) or step.rows
    for name, count in output.rows.items():
        frame = output.table(name) if count <= FULL_TABLE_ROWS else output.head(name, FIRST_ROWS)
        table = TableView(name, count, frame)
        if name == VERDICTS:
            step.verdicts = table
        else:
            step.tables.append(table)
    step.plots = output.plots()
    return step


def cell_text(value: Any, limit: int = CELL_CHARS) -> str:
    """A table cell as one line of plain text: floats to 4 significant digits, lists shortened, at most
    ``limit`` characters. Not escaped: each renderer escapes for its own format."""
    text = " ".join(_plain(value, limit).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        return "" if math.isnan(number) else f"{number:.4g}"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_plain(v, limit)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        if not isinstance(items, list):  # a numpy scalar
            return _plain(items, limit)
        parts, length = [], 0
        for item in items:
            if length > limit:
                parts.append(f"… {len(items) - len(parts)} more")
                break
            parts.append(repr(item) if isinstance(item, str) else _plain(item, limit))
            length += len(parts[-1]) + 2
        return "[" + ", ".join(parts) + "]"
    return str(value)


def figure_text(value: Any) -> str:
    """A summary figure: floats to 4 significant digits."""
    return cell_text(value, CELL_CHARS)


def flags(record: Verdict) -> list[str]:
    """What a verdict is flagged with, from its evidence: ``not converged`` (a tournament that stopped before
    its moving averages settled) and ``control`` (a strategy that must come out neutral)."""
    found = []
    if record.evidence.get("converged") is False:
        found.append("not converged")
    if record.evidence.get("control") is True:
        found.append("control")
    return found


def estimate_text(record: Verdict) -> str:
    """A verdict's estimate with its interval, ``1.52 [1.21, 1.9] (98.75%)``; empty without an estimate."""
    if not math.isfinite(record.estimate):
        return ""
    text = f"{record.estimate:.4g}"
    low, high, level = record.interval.low, record.interval.high, record.interval.level
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{low:.4g}, {high:.4g}]" + (f" ({100 * level:.4g}%)" if math.isfinite(level) else "")
    return text
