"""``report.md``: a short Markdown page (experiment, steps, figures, verdicts); report.html has the rest."""

from __future__ import annotations

import html
import os
import re
from typing import Any

from mirror_neuron.report.model import SENTENCE_CHARS, RunView, StepView, cell_text, figure_text, flags


def render_markdown(run: RunView) -> str:
    info, index = run.experiment, run.index
    lines = [f"# {_md(run.name)}", ""]
    lines.append(f"Config: `{_code(index.get('config'))}`, seed {_md(info.get('seed', ''))}"
                 + (f", tags: {', '.join(_md(t) for t in info.get('tags') or [])}" if info.get("tags") else ""))
    if index.get("tracking"):
        lines.append(f"Tracking: `{_code(index['tracking'])}`")
    lines += ["", "The full report, with tables and plots, is `report.html` beside this file.", ""]
    if any(s.verdicts is not None for s in run.steps):
        lines += ["## Verdicts", ""]
        for s in run.steps:
            if s.verdicts is not None:
                lines += [f"{_md(s.id)}:", "", *_verdict_lines(s), ""]
                lines += [f"![{_md(p.stem)}]({_link(os.path.relpath(p, run.out))})" for p in s.lead_plots] + [""]
    lines += ["## Steps", "", "| step | section | entrypoint | status | rows | seconds | fingerprint |",
              "|---|---|---|---|---|---|---|"]
    for s in run.steps:
        rows = ", ".join(f"{_md(t)}: {n}" for t, n in s.rows.items())
        seconds = f"{s.seconds:.1f}" if isinstance(s.seconds, (int, float)) else ""
        status = s.status if s.output is not None else "missing"
        status += f" (by an earlier run, started {run.earlier(s)})" if run.earlier(s) else ""
        lines.append(f"| {_md(s.id)} | {_md(s.section)} | {_md(s.entrypoint)} | {_md(status)} | {rows} | {seconds} | "
                     f"`{_code(s.fingerprint[:12])}` |")
    for s in run.steps:
        lines += ["", f"## {_md(s.id)}", ""]
        if s.problem:
            lines += [f"> {_md(s.problem)}", ""]
        if s.validator:
            lines += [f"- {_md(line)}" for line in s.validator] + [""]
        if s.summary:
            lines += [", ".join(f"{_md(k)}: {_md(figure_text(v))}" for k, v in s.summary.items()), ""]
        if s.verdicts is not None:
            lines += [*_verdict_lines(s), ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip() + "\n"


def _verdict_lines(step: StepView) -> list[str]:
    """One list item per verdict: subject, verdict (and its flags), sentence."""
    return [f"- **{_md(cell_text(r.subject))}** ({_md(', '.join([cell_text(r.verdict, 40), *flags(r)]))}): "
            f"{_md(cell_text(r.sentence, SENTENCE_CHARS))}" for r in step.records]


def _link(path: str) -> str:
    """A relative path as a Markdown link target (spaces and parentheses escaped)."""
    return path.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _md(value: Any) -> str:
    """Text for a Markdown line or table cell: HTML-escaped (viewers render raw HTML) and pipes escaped."""
    return html.escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


def _code(value: Any) -> str:
    return str(value).replace("`", "'")
