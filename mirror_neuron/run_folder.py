"""The run folder (``--out``): its own files, its default name, and what may be written where.

A run writes only into its run folder and the store, and checks both before it writes anything:

- ``--out`` must be a folder (or not exist yet) whose nearest existing parent is writable; it may not be
  the file system's root, the store, a folder inside the store or inside a stored output, and the
  store may not be inside it.
- An existing ``--out`` must be empty or a run folder: besides step links (symlinks), hidden temporary
  files and the run folder's own files (:data:`RUN_FOLDER_FILES`) it may hold nothing, and a run
  folder of another experiment (its ``run.json`` names another experiment) is refused, never replaced.
- ``--store`` must be a folder (or not exist yet) with a writable nearest existing parent, not the root.
- Step ids may not be the names of the run folder's own files.

The default folder of an experiment is ``runs/<name>`` when the name is already a safe folder name;
otherwise it is the name made safe plus a short hash of the name itself, so that names that read alike
once made safe (``a/b``, ``a b``) never share a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from mirror_neuron.config import Experiment
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.report import HTML_NAME, MARKDOWN_NAME
from mirror_neuron.report.model import RUN_INDEX
from mirror_neuron.store import MANIFEST

DEFAULT_RUNS_DIR = Path("runs")
TRACKING_DIR = "wandb"  # W&B keeps its local run files here (``wandb.init(dir=<run folder>)``)
RUN_FOLDER_FILES = (RUN_INDEX, HTML_NAME, MARKDOWN_NAME, TRACKING_DIR)
NAME_HASH_CHARACTERS = 8


def slug(name: str) -> str:
    """The folder name of experiment ``name``: ``name`` itself when it is safe, else the safe part and
    a hash of ``name`` (``a/b`` -> ``a-b-<hash>``), so that different names never share a folder."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-")
    if cleaned == name:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:NAME_HASH_CHARACTERS]
    return f"{cleaned or 'experiment'}-{digest}"


def default_out(name: str) -> Path:
    return DEFAULT_RUNS_DIR / slug(name)


def check_step_ids(experiment: Experiment) -> None:
    """Refuse a step id that is the name of one of the run folder's own files (its link would replace it)."""
    reserved = {name.lower() for name in RUN_FOLDER_FILES}
    for entry in experiment.entries:
        if entry.id.lower() in reserved:
            raise ConfigError(f"id '{entry.id}' is the name of a file of the run folder "
                              f"({', '.join(RUN_FOLDER_FILES)}); choose another id",
                              experiment.where(entry.key_path + ("id",)))


def check_run_paths(out: Path, store: Path, experiment_name: str, shown_out: str, shown_store: str,
                    contents: bool = True) -> None:
    """Refuse an output folder or a store that a run must not write to (see the module's docstring).
    ``out`` and ``store`` are resolved; ``shown_out`` and ``shown_store`` name them in messages (``--out DIR``).
    Without ``contents``, what an existing ``out`` holds is left to the caller (a sweep's folder)."""
    for path, shown in ((out, shown_out), (store, shown_store)):
        if path == Path(path.anchor):
            raise UserError(f"{shown}: the root of the file system; choose a folder of its own")
        if path.exists() and not path.is_dir():
            raise UserError(f"{shown}: exists and is not a folder")
        inside = _stored_output_around(path)
        if inside is not None:
            raise UserError(f"{shown}: inside the stored output {inside}; choose a folder outside the store")
        _check_writable(path, shown)
    if out == store or store in out.parents:
        raise UserError(f"{shown_out}: inside the store {store}; choose a folder outside it")
    if out in store.parents:
        raise UserError(f"{shown_store}: inside the run folder {out}; keep the store outside --out")
    if contents and out.is_dir():
        _check_run_folder(out, experiment_name, shown_out)


def missing_folders(out: Path) -> list[Path]:
    """``out`` and those of its parents that do not exist yet, deepest first (what creating it creates)."""
    return [folder for folder in (out, *out.parents) if not folder.exists()]


def remove_if_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, see :func:`missing_folders`) while nothing was written into them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone)
            return


def _stored_output_around(path: Path) -> Path | None:
    """The stored output (finished, with its manifest, or partial) that holds ``path``, if any."""
    for folder in (path, *path.parents):
        if folder.name.endswith(".partial") or (folder / MANIFEST).is_file():
            return folder
    return None


def _check_writable(path: Path, shown: str) -> None:
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        raise UserError(f"{shown}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{shown}: {existing} is not writable")


def _check_run_folder(out: Path, experiment_name: str, shown: str) -> None:
    """An existing output folder must be empty or a run folder of the same experiment."""
    with os.scandir(out) as entries:
        for entry in entries:
            if entry.name in RUN_FOLDER_FILES or entry.name.startswith(".") or entry.is_symlink():
                continue
            raise UserError(f"{shown}: holds '{entry.name}', which is not part of a run; choose a new or "
                            "empty folder (or the folder of an earlier run of this experiment)")
    recorded = _recorded_name(out / RUN_INDEX)
    if recorded is not None and recorded != experiment_name:
        raise UserError(f"{shown}: holds the run of experiment '{recorded}', not '{experiment_name}'; choose "
                        "another --out, or move that run away")


def _recorded_name(index: Path) -> str | None:
    """The experiment name an existing ``run.json`` records (None: no readable run.json)."""
    try:
        name = json.loads(index.read_text(encoding="utf-8"))["experiment"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None
