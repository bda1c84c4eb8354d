"""The run report: a Markdown page summarizing what each step produced."""

from __future__ import annotations

import os
from pathlib import Path

from mirror_neuron.config import Experiment
from mirror_neuron.tracking import StepRecord

SAMPLE_ROWS = 5
CELL_CHARS = 80


def write_report(out: Path, experiment: Experiment, records: list[StepRecord], tracking: str | None) -> Path:
    """Write ``<out>/report.md`` atomically and return its path."""
    lines = [f"# {experiment.info.name}", ""]
    lines.append(f"Config: `{experiment.source.path}`, seed {experiment.info.seed}"
                 + (f", tags: {', '.join(experiment.info.tags)}" if experiment.info.tags else ""))
    if tracking:
        lines.append(f"Tracking: `{tracking}`")
    lines += ["", "| step | section | entrypoint | status | rows | seconds | fingerprint |",
              "|---|---|---|---|---|---|---|"]
    for r in records:
        rows = ", ".join(f"{t}: {n}" for t, n in r.rows.items())
        lines.append(f"| {r.id} | {r.section} | {r.entrypoint} | {r.status} | {rows} | {r.seconds:.1f} | "
                     f"`{r.fingerprint[:12]}` |")
    for r in records:
        lines += ["", f"## {r.id}", ""]
        if r.summary:
            lines += [", ".join(f"{k}: {_figure(v)}" for k, v in r.summary.items()), ""]
        sample = r.output.head("data", SAMPLE_ROWS) if r.output else None
        if sample is not None:
            lines += [_markdown_table(sample), ""]
    path = out / "report.md"
    temporary = out / ".report.md.tmp"
    temporary.write_text("\n".join(lines) + "\n")
    os.replace(temporary, path)
    return path


def _figure(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _markdown_table(frame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _cell(value: object) -> str:
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
