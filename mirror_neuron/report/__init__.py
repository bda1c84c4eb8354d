"""The run report: ``report.html`` (self-contained) and a short ``report.md``, from stored outputs alone.

``write_report(load_run(out))`` is what both the end of a run and ``mirror-neuron report --run DIR`` call.
"""

from __future__ import annotations

import os
from pathlib import Path

from mirror_neuron.report.model import RunView, StepView, TableView, load_run
from mirror_neuron.report.text import verdicts_text

__all__ = ["RunView", "StepView", "TableView", "load_run", "verdicts_text", "write_atomic", "write_report"]

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


def write_report(run: RunView) -> Path:
    """Write ``report.html`` and ``report.md`` into the run folder (atomically); return report.html's path."""
    from mirror_neuron.report.html import render_html
    from mirror_neuron.report.markdown import render_markdown

    write_atomic(run.out / MARKDOWN_NAME, render_markdown(run))
    return write_atomic(run.out / HTML_NAME, render_html(run))


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed into place)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
