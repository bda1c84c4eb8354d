"""Running an experiment: validate, plan against the store, run steps, link outputs, track."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mirror_neuron import __version__
from mirror_neuron.config import Entry, Experiment, parse_experiment
from mirror_neuron.errors import UserError, disk_full_is_user_error
from mirror_neuron.graph import check_requires, execution_order, select_steps
from mirror_neuron.hashing import code_sha256
from mirror_neuron.log import chunk_progress, say, step_named
from mirror_neuron.offline import offline
from mirror_neuron.overrides import override
from mirror_neuron.redact import redact, redact_data
from mirror_neuron.report import load_run, verdicts_text, write_report
from mirror_neuron.run_folder import (
    DEFAULT_RUNS_DIR,
    check_run_paths,
    check_step_ids,
    default_out,
    missing_folders,
    remove_if_empty,
)
from mirror_neuron.store import StepOutput, Store, check_output, fingerprint
from mirror_neuron.tracking import StepRecord, make_tracker
from mirror_neuron.yaml_source import dict_as_yaml, load_yaml_dict, load_yaml_file

if TYPE_CHECKING:
    from mirror_neuron.sweep.spec import Point


@dataclass
class PlannedStep:
    """A step of the run with its fingerprint, decided before anything runs."""

    entry: Entry
    resolved: dict[str, Any]
    fingerprint: str
    upstream: dict[str, str]
    selected: bool


@dataclass
class RunOptions:
    config: Path | Mapping[str, Any]  # a YAML file, or the config as a Python mapping
    offline: bool = False
    steps: str | None = None
    overrides: list[str] = field(default_factory=list)
    out: Path | None = None
    store: Path | None = None
    force: bool = False
    point: Point | None = None  # a point of a sweep: its values are assigned after ``overrides``


def load_experiment(config: Path | Mapping[str, Any], overrides: list[str], point: Point | None = None) -> Experiment:
    """Read (a file, or a mapping as if it were one), override and validate a config (with ``point``: that
    point of its sweep); raises :class:`UserError` on any problem."""
    from mirror_neuron.sweep.spec import SWEEP

    source = load_yaml_dict(config) if isinstance(config, Mapping) else load_yaml_file(config)
    if isinstance(source.data, dict) and SWEEP in source.data:
        if point is None:
            raise UserError(f"the config has a sweep block: run it with `mirror-neuron sweep --config {config}`",
                            source.where((SWEEP,)))
        del source.data[SWEEP]
    if overrides:
        override(source, overrides)
    if point is not None:
        override(source, [*point.assignments, point.name_assignment], point.origin)
    experiment = parse_experiment(source)
    check_requires(experiment)
    check_step_ids(experiment)
    return experiment


def plan(experiment: Experiment, steps: str | None) -> list[PlannedStep]:
    """The steps to run (the selection plus what it requires), each resolved and fingerprinted."""
    selected = select_steps(experiment, steps)
    fingerprints: dict[str, str] = {}
    planned = []
    for entry in execution_order(experiment, selected):
        resolved = redact_data(entry.step.resolve())  # what is stored and tracked never holds a credential
        upstream = {required: fingerprints[required] for required in entry.requires}
        fingerprints[entry.id] = fingerprint(entry.section, entry.entrypoint, resolved, upstream)
        planned.append(PlannedStep(entry, resolved, fingerprints[entry.id], upstream, entry in selected))
    return planned


def default_store() -> Path:
    return Path(os.environ.get("MIRROR_NEURON_STORE", DEFAULT_RUNS_DIR / ".store"))


@dataclass
class RunResult:
    out: Path
    records: list[StepRecord]
    report: Path | None
    tracking: str | None


def run_experiment(options: RunOptions) -> RunResult:
    """Run an experiment end to end and return what happened to each step (``offline``: with every library
    offline, see :mod:`mirror_neuron.offline`)."""
    with offline(options.offline):
        return _run_experiment(options)


def _run_experiment(options: RunOptions) -> RunResult:
    experiment = load_experiment(options.config, options.overrides, options.point)
    planned = plan(experiment, options.steps)
    out = (options.out or default_out(experiment.info.name)).resolve()
    store = Store((options.store or default_store()).resolve())
    check_run_paths(out, store.root, experiment.info.name,
                    f"--out {options.out}" if options.out else f"{out} (the run folder of '{experiment.info.name}')",
                    f"--store {options.store}" if options.store else f"{store.root} (the store)")
    tracking = experiment.tracking
    tracker = make_tracker(tracking.backend, tracking.project, tracking.entity, out, options.offline)

    say(f"experiment '{experiment.info.name}': {len(planned)} step(s) -> {out}")
    _preflight(planned, store, options.force)
    started_at = utc_now()
    created = missing_folders(out)
    out.mkdir(parents=True, exist_ok=True)
    tracker.start(redact(experiment.info.name), redact_data(experiment.info.tags), _tracked_config(experiment, planned),
                  group=options.point.sweep if options.point else None)
    records: list[StepRecord] = []
    run = report = None
    ok = False
    try:
        with disk_full_is_user_error(out):
            for number, step in enumerate(planned, start=1):
                record = _run_step(step, store, options.force, f"[{number}/{len(planned)}]")
                _link(out, step.entry.id, record.output.path)
                tracker.log_step(record, record.output.head(step.entry.step.sample_table()))
                records.append(record)
        ok = True
    finally:
        tracker.finish(ok)
        try:
            if records:
                with disk_full_is_user_error(out):
                    _write_run_index(out, experiment, options, planned, records, tracker.location, started_at, ok)
                    run = load_run(out)
                    report = write_report(run)
            else:
                remove_if_empty(created)  # a run that failed before its first step leaves no empty run folder
        except Exception:
            if ok:
                raise
            # the run already failed (a full disk fails this too): its own error is the one to tell
    verdicts = verdicts_text(run, {r.id for r in records}) if run else ""  # earlier runs' steps: in the report
    if verdicts:
        say(verdicts)
    return RunResult(out, records, report, tracker.location)


def _preflight(planned: list[PlannedStep], store: Store, force: bool) -> None:
    """The checks that need data (:meth:`Step.preflight`) of every step that will be computed, before
    tracking starts: a bad schema, or an analysis target its stored query lacks, leaves no tracked run behind."""
    recomputed = {step.fingerprint for step in planned if force and step.selected}
    for step in planned:
        if step.fingerprint in recomputed or not store.has_finished(step.fingerprint):
            stored = {required: store.finished(fingerprint) for required, fingerprint in step.upstream.items()
                      if fingerprint not in recomputed and store.has_finished(fingerprint)}
            step.entry.step.preflight(stored)


def _run_step(step: PlannedStep, store: Store, force: bool, counter: str) -> StepRecord:
    entry = step.entry
    name = f"{counter} {entry.section} '{entry.id}'"
    why = "" if step.selected else " (required upstream)"
    started = time.monotonic()
    fresh = force and step.selected
    with store.lock(step.fingerprint):
        existing, damage = (None, None) if fresh else store.reusable(step.fingerprint)
        if damage is not None:
            say(f"{name}: stored output {step.fingerprint[:12]} is damaged: {damage}; "
                f"set it aside as {damage.moved_to}")
        if existing is not None:
            say(f"{name}: reused stored output {step.fingerprint[:12]}{why}")
            return StepRecord(entry.id, entry.section, entry.entrypoint, "reused", step.fingerprint,
                              time.monotonic() - started, existing.manifest.get("summary", {}), existing)
        writer = store.writer(step.fingerprint, fresh=fresh)
        if writer.set_aside is not None:
            say(f"{name}: stored partial output {step.fingerprint[:12]} is damaged: {writer.set_aside}; "
                f"set that chunk and those after it aside in {writer.set_aside.moved_to}")
        status = "resumed" if writer.completed else "computed"
        if writer.completed:
            say(f"{name}: resuming after {writer.completed} completed chunk(s){why}")
        else:
            cause = "" if step.selected else " (required upstream; no stored output matches)"
            say(f"{name}: computing {step.fingerprint[:12]}{cause}")
        writer.on_chunk = chunk_progress(name)
        started_at = utc_now()
        try:
            with step_named(name):
                summary = entry.step.run({r: store.finished(step.upstream[r]) for r in entry.requires}, writer)
        except BaseException:
            store.discard_if_empty(writer)
            raise
        manifest = {
            "kind": entry.section, "entrypoint": entry.entrypoint, "id": entry.id,
            "fingerprint": step.fingerprint, "config": step.resolved, "upstream": step.upstream,
            "version": __version__, "code_sha256": code_sha256(), "git_commit": git_commit(), "started_at": started_at,
            "finished_at": utc_now(), "summary": summary, "resumed_from_chunk": writer.resumed_from,
        }
        output = store.commit(step.fingerprint, writer, manifest)
    seconds = time.monotonic() - started
    rows = ", ".join(f"{count} {table} rows" for table, count in output.rows.items()) or "no rows"
    say(f"{name}: {status} in {seconds:.1f}s, {rows}")
    return StepRecord(entry.id, entry.section, entry.entrypoint, status, step.fingerprint, seconds, summary, output)


def _link(out: Path, step_id: str, target: Path) -> None:
    """Point ``<out>/<step id>`` at the stored output (atomically, never outside ``out``)."""
    link = out / step_id
    if link.resolve().parent != out.resolve() and not link.is_symlink():
        raise UserError(f"step id '{step_id}' would write outside {out}")
    temporary = out / f".{step_id}.link-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(target, out), target_is_directory=True)
    if link.is_dir() and not link.is_symlink():
        raise UserError(f"{link} exists and is not a link to a stored output; move it away")
    os.replace(temporary, link)


def _tracked_config(experiment: Experiment, planned: list[PlannedStep]) -> dict[str, Any]:
    return redact_data({
        "experiment": experiment.info.model_dump(),
        "steps": {p.entry.id: {"section": p.entry.section, "entrypoint": p.entry.entrypoint,
                               "requires": p.entry.requires, "fingerprint": p.fingerprint, "config": p.resolved}
                  for p in planned},
        "version": __version__,
    })


def _write_run_index(out: Path, experiment: Experiment, options: RunOptions, planned: list[PlannedStep],
                     records: list[StepRecord], tracking: str | None, started_at: str, ok: bool) -> None:
    """``run.json``: everything the report needs besides the stored outputs the step links lead to. Its
    steps are this run's, and the latest record of every other step of the experiment an earlier run left
    (see :func:`_earlier_steps`), in the experiment's order."""
    steps = {r.id: {"id": r.id, "section": r.section, "entrypoint": r.entrypoint, "status": r.status,
                    "fingerprint": r.fingerprint, "rows": r.rows, "seconds": round(r.seconds, 3),
                    "summary": r.summary, "path": r.id, "run_started_at": started_at} for r in records}
    order = [entry.id for entry in execution_order(experiment, experiment.entries)]
    steps.update(_earlier_steps(out, [step_id for step_id in order if step_id not in steps]))
    index = {
        "experiment": experiment.info.model_dump(), "config": experiment.source.path,
        "config_text": _config_text(options.config), "overrides": options.overrides, "selected": options.steps,
        "version": __version__, "git_commit": git_commit(), "started_at": started_at, "finished_at": utc_now(),
        "ok": ok, "tracking": tracking, "planned": [p.entry.id for p in planned],
        "sweep": {"name": options.point.sweep, "point": options.point.index, "values": options.point.values}
        if options.point else None,
        "steps": sorted(steps.values(), key=lambda step: order.index(step["id"])),
    }
    temporary = out / ".run.json.tmp"
    temporary.write_text(json.dumps(redact_data(index), indent=2, default=str))
    os.replace(temporary, out / "run.json")


def _earlier_steps(out: Path, wanted: list[str]) -> dict[str, dict[str, Any]]:
    """The records an earlier run of this folder left of the ``wanted`` steps, by id: those whose link still
    leads to the output recorded, whole (checked against its manifest). Each keeps the start time of the
    run that recorded it (``run_started_at``)."""
    try:
        previous = json.loads((out / "run.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    entries = previous.get("steps") if isinstance(previous, dict) else None
    kept: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("id") not in wanted or not entry.get("fingerprint"):
            continue
        link = out / entry["id"]  # a step id of the experiment: a plain name
        if not link.is_dir() or check_output(link.resolve()) or StepOutput(link).fingerprint != entry["fingerprint"]:
            continue
        kept[entry["id"]] = {**entry, "path": entry["id"],
                             "run_started_at": entry.get("run_started_at") or previous.get("started_at")}
    return kept


def _config_text(config: Path | Mapping[str, Any]) -> str | None:
    if isinstance(config, Mapping):
        return dict_as_yaml(config)
    try:
        return Path(config).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def utc_now() -> str:
    """The time now, in UTC, to the second (ISO 8601)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@functools.cache
def git_commit() -> str | None:
    """The commit of the mirror-neuron source tree, when it is a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
