"""Weights & Biases tracking: one W&B run per experiment run, step outputs as artifacts."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mirror_neuron.errors import UserError
from mirror_neuron.tracking.base import StepRecord, Tracker

SAMPLE_ROWS = 20


def logged_in() -> bool:
    """Whether W&B has credentials (``WANDB_API_KEY`` or a ``wandb login`` entry in ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class WandbTracker(Tracker):
    def __init__(self, project: str, entity: str | None, out_dir: Path, offline: bool) -> None:
        self.project, self.entity, self.out_dir = project, entity, Path(out_dir)
        self.mode = "offline" if offline else os.environ.get("WANDB_MODE", "online")
        if self.mode == "online" and not logged_in():
            raise UserError("W&B is not logged in: run `wandb login`, pass --offline to track to a local run, "
                            "or set tracking.backend: none in the config")
        self.run: Any = None

    def start(self, name: str, tags: list[str], config: dict[str, Any]) -> None:
        import wandb

        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=self.project, entity=self.entity, name=name, tags=tags or None,
                              config=config, mode=self.mode, dir=str(self.out_dir), reinit="finish_previous")
        self.location = getattr(self.run, "dir", None) and str(Path(self.run.dir).parent)

    def log_step(self, record: StepRecord, sample: Any | None) -> None:
        import wandb

        figures = {f"{record.id}/{key}": value for key, value in record.summary.items()}
        figures.update({f"{record.id}/rows/{table}": count for table, count in record.rows.items()})
        figures[f"{record.id}/seconds"] = record.seconds
        if sample is not None and len(sample):
            figures[f"{record.id}/sample"] = wandb.Table(dataframe=_loggable(sample))
        self.run.log(figures)
        if record.output is not None:
            artifact = wandb.Artifact(name=f"{record.id}-{record.fingerprint[:12]}", type=record.section,
                                      metadata={"fingerprint": record.fingerprint, "entrypoint": record.entrypoint,
                                                "rows": record.rows})
            artifact.add_dir(str(record.output.path))
            self.run.log_artifact(artifact)

    def finish(self, ok: bool) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if ok else 1)
            self.run = None


def _loggable(frame: Any) -> Any:
    """A sample frame whose cells W&B tables accept (nested values as text)."""
    frame = frame.head(SAMPLE_ROWS).copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, dict, tuple)) or hasattr(v, "tolist")).any():
            frame[column] = frame[column].map(str)
    return frame
