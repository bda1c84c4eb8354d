"""The verdicts as aligned plain text, printed at the end of a run."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from mirror_neuron.report.model import SENTENCE_CHARS, RunView, cell_text

COLUMNS = (("subject", 32), ("verdict", 16), ("sentence", SENTENCE_CHARS))  # column, at most this many characters


def verdicts_text(run: RunView, steps: Collection[str] | None = None) -> str:
    """Every step's verdicts (or those of the ``steps`` named): one block per step, one aligned line per row
    ending with its sentence. Empty when no step wrote verdicts."""
    blocks = []
    for step in run.steps:
        if step.verdicts is None or (steps is not None and step.id not in steps):
            continue
        rows = [tuple(terminal_safe(cell_text(getattr(record, column), limit)) for column, limit in COLUMNS)
                for record in step.records]
        subject_width = max([len("subject"), *(len(r[0]) for r in rows)])
        verdict_width = max([len("verdict"), *(len(r[1]) for r in rows)])
        lines = [f"verdicts of {step.section} '{terminal_safe(step.id)}':",
                 f"  {'subject':<{subject_width}}  {'verdict':<{verdict_width}}  sentence"]
        lines += [f"  {s:<{subject_width}}  {v:<{verdict_width}}  {t}" for s, v, t in rows]
        if not step.verdicts.complete:
            lines.append(f"  ... {step.verdicts.rows - len(rows)} more in report.html")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def terminal_safe(text: str) -> str:
    """``text`` without control characters (a completion must not drive the terminal)."""
    return "".join(c if unicodedata.category(c)[0] != "C" else f"\\x{ord(c):02x}" for c in text)
