"""Weights & Biases tracking: one W&B run per experiment run, step outputs as artifacts, plots as images.

W&B is quiet on the console (:data:`QUIET`): the terminal shows the run's own progress and verdicts,
not W&B's banner and forty lines of run summary; its run files are written all the same (the run
folder, printed as ``tracking:``, holds them).
"""

from __future__ import annotations

import configparser
import hashlib
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mirror_neuron.errors import UserError
from mirror_neuron.tracking.base import StepRecord, Tracker

SAMPLE_ROWS = 20
VERDICTS = "verdicts"
VERDICT_ROWS = 1000
DEFAULT_BASE_URL = "https://api.wandb.ai"
MODES = {"online", "offline", "dryrun", "disabled", "shared", "run"}
NO_LOGIN_MODES = {"offline", "disabled"}  # modes that never talk to a server
NAME_MAX = 128  # W&B's limit on project and artifact names
TAG_MAX = 64
PROJECT_FORBIDDEN = "/\\#?%:"
# wandb.Settings: nothing printed (banner, sync hints, run summary), no console capture
QUIET = {"silent": True, "console": "off", "show_info": False, "show_warnings": False}


def logged_in() -> bool:
    """Whether W&B has credentials, looked for where ``wandb`` looks.

    ``WANDB_API_KEY`` or ``WANDB_IDENTITY_TOKEN_FILE``; an ``api_key`` in the global settings file; or a
    ``wandb login`` entry in the netrc file (``$NETRC``, ``~/.netrc`` or ``~/_netrc``) for the server's
    ``host[:port]`` (``WANDB_BASE_URL``, else the settings file's ``base_url``, else api.wandb.ai).
    """
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    settings = _global_settings()
    if settings.get("api_key"):
        return True
    url = urlsplit(os.environ.get("WANDB_BASE_URL") or settings.get("base_url") or DEFAULT_BASE_URL)
    machines = [m for m in (url.netloc, url.hostname) if m] or [urlsplit(DEFAULT_BASE_URL).netloc]
    try:
        found = netrc.netrc(str(_netrc_path()))
    except (netrc.NetrcParseError, OSError):
        return False
    for machine in machines:
        credentials = found.authenticators(machine)
        if credentials and credentials[2]:
            return True
    return False


def _global_settings() -> dict[str, str]:
    """The ``[default]`` section of W&B's global settings file (``$WANDB_CONFIG_DIR/settings``)."""
    folder = os.environ.get("WANDB_CONFIG_DIR")
    path = Path(folder).expanduser() / "settings" if folder else Path("~/.config/wandb/settings").expanduser()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return {}
    return dict(parser["default"]) if parser.has_section("default") else {}


def _netrc_path() -> Path:
    """The netrc file ``wandb login`` writes: ``$NETRC``, else ``~/.netrc``, else ``~/_netrc``."""
    if os.environ.get("NETRC"):
        return Path(os.environ["NETRC"]).expanduser()
    unix = Path("~/.netrc").expanduser()
    windows = Path("~/_netrc").expanduser()
    return windows if not unix.exists() and windows.exists() else unix


def _mode(offline: bool) -> str:
    """The W&B mode: ``offline`` with --offline, else ``WANDB_MODE`` (unset or empty means online)."""
    if offline:
        return "offline"
    mode = os.environ.get("WANDB_MODE", "").strip().lower() or "online"
    if mode not in MODES:
        raise UserError(f"WANDB_MODE={mode!r} is not a W&B mode; use one of {', '.join(sorted(MODES))}, "
                        "or pass --offline")
    return "offline" if mode == "dryrun" else mode


def _check_project(project: str) -> None:
    """Refuse, on one line, a project name ``wandb.init`` would reject with a traceback."""
    bad = sorted(set(project) & set(PROJECT_FORBIDDEN))
    if len(project) > NAME_MAX or bad:
        raise UserError(f"tracking.project {project!r} is not a valid W&B project name: at most {NAME_MAX} "
                        f"characters, none of {' '.join(PROJECT_FORBIDDEN)}")


def _check_tags(tags: list[str]) -> None:
    """Refuse, on one line, tags ``wandb.init`` would reject with a traceback."""
    for tag in tags:
        if not 1 <= len(tag) <= TAG_MAX:
            raise UserError(f"experiment.tags: W&B tags are 1-{TAG_MAX} characters; {tag!r} has {len(tag)}")


def _short(name: str, room: int) -> str:
    """``name`` if it fits in ``room`` characters, else a prefix and a hash of the whole (still unique)."""
    if len(name) <= room:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:room - len(digest) - 1]}-{digest}"


class WandbTracker(Tracker):
    """One W&B run per experiment run: resolved config; per step its figures, sample table, plots, verdicts;
    outputs as artifacts."""

    def __init__(self, project: str, entity: str | None, out_dir: Path, offline: bool) -> None:
        self.project, self.entity, self.out_dir = project, entity, Path(out_dir)
        _check_project(project)
        self.mode = _mode(offline)
        if self.mode not in NO_LOGIN_MODES and not logged_in():
            raise UserError("W&B is not logged in: run `wandb login`, pass --offline to track to a local run, "
                            "or set tracking.backend: none in the config")
        self.run: Any = None

    def start(self, name: str, tags: list[str], config: dict[str, Any], group: str | None = None) -> None:
        import wandb

        _check_tags(tags)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        wandb.setup(settings=wandb.Settings(**QUIET))  # the global settings: artifacts log through them
        self.run = wandb.init(project=self.project, entity=self.entity, name=name, tags=tags or None,
                              config=config, group=group, mode=self.mode, dir=str(self.out_dir), reinit="finish_previous",
                              settings=wandb.Settings(**QUIET))
        # A disabled run's dir is a placeholder that is never written: report no tracking location then.
        self.location = None if self.mode == "disabled" else str(Path(self.run.dir).parent)

    def log_step(self, record: StepRecord, sample: Any | None) -> None:
        import wandb

        figures = {f"{record.id}/{key}": value for key, value in record.summary.items()}
        figures.update({f"{record.id}/rows/{table}": count for table, count in record.rows.items()})
        figures[f"{record.id}/seconds"] = record.seconds
        if sample is not None and len(sample):
            figures[self._table_key(record.id, "sample")] = wandb.Table(dataframe=_loggable(sample))
        if record.output is not None:
            figures.update(_plots_and_verdicts(record, self._table_key(record.id, VERDICTS)))
        self.run.log(figures)
        if record.output is not None:
            name = f"{_short(record.id, NAME_MAX - 13)}-{record.fingerprint[:12]}"
            artifact = wandb.Artifact(name=name, type=record.section,
                                      metadata={"fingerprint": record.fingerprint, "entrypoint": record.entrypoint,
                                                "rows": record.rows})
            artifact.add_dir(str(record.output.path))
            self.run.log_artifact(artifact)

    def log_table(self, key: str, frame: Any) -> None:
        import wandb

        self.run.log({key: wandb.Table(dataframe=_loggable(frame, len(frame)))})

    def _table_key(self, step_id: str, name: str) -> str:
        """``<step id>/<name>`` for a table. W&B names a table's artifact ``run-<run id>-<key>-<6-character
        hash>`` (key without "/"), which must fit in NAME_MAX characters: very long step ids are shortened."""
        room = NAME_MAX - len(f"run-{self.run.id}-") - len(name) - len("-XXXXXX")
        return f"{_short(step_id, room)}/{name}"

    def finish(self, ok: bool) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if ok else 1)
            self.run = None


def _plots_and_verdicts(record: StepRecord, verdicts_key: str) -> dict[str, Any]:
    """The step's plots as images (``<step id>/plots/<name>``) and its verdicts table, when it has them."""
    import wandb

    logged: dict[str, Any] = {f"{record.id}/plots/{path.stem}": wandb.Image(str(path))
                              for path in record.output.plots()}
    if record.output.table_path(VERDICTS).exists():
        verdicts = record.output.table(VERDICTS)
        logged[verdicts_key] = wandb.Table(dataframe=_loggable(verdicts, VERDICT_ROWS))
    return logged


def _loggable(frame: Any, rows: int = SAMPLE_ROWS) -> Any:
    """A frame's first ``rows`` rows, with cells W&B tables accept (nested values as text)."""
    frame = frame.head(rows).copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, dict, tuple)) or hasattr(v, "tolist")).any():
            frame[column] = frame[column].map(str)
    return frame
