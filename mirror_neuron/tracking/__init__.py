"""Experiment tracking: W&B (online or offline) or none."""

from __future__ import annotations

from mirror_neuron.tracking.base import NullTracker, StepRecord, Tracker

__all__ = ["NullTracker", "StepRecord", "Tracker", "make_tracker"]


def make_tracker(backend: str, project: str, entity: str | None, out_dir, offline: bool) -> Tracker:
    """The tracker a config's ``tracking.backend`` asks for."""
    if backend == "none":
        return NullTracker()
    from mirror_neuron.tracking.wandb_tracker import WandbTracker

    return WandbTracker(project=project, entity=entity, out_dir=out_dir, offline=offline)
