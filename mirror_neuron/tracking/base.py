"""What every tracker receives: the run's config, then one record per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mirror_neuron.store import StepOutput


@dataclass
class StepRecord:
    """What happened to one step in a run."""

    id: str
    section: str
    entrypoint: str
    status: str  # computed | resumed | reused
    fingerprint: str
    seconds: float
    summary: dict[str, float] = field(default_factory=dict)
    output: StepOutput | None = None
    note: str = ""

    @property
    def rows(self) -> dict[str, int]:
        return self.output.rows if self.output else {}


class Tracker:
    """Base tracker: records nothing. Subclasses send runs somewhere."""

    location: str | None = None

    def start(self, name: str, tags: list[str], config: dict[str, Any], group: str | None = None) -> None:
        """Open a run before any step runs (``group``: the runs it belongs with, such as a sweep's points)."""

    def log_table(self, key: str, frame: Any) -> None:
        """Record a whole table (a sweep's points) under ``key``."""

    def log_step(self, record: StepRecord, sample: Any | None) -> None:
        """Record one finished step: its summary figures, a sample of its table, its plots and verdicts
        (read from ``record.output``), its output."""

    def finish(self, ok: bool) -> None:
        """Close the run."""


class NullTracker(Tracker):
    """``tracking: {backend: none}``."""
