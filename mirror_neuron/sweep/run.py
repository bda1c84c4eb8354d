"""Running a sweep: validate every point, run each as a normal experiment on an executor, gather the points table.

Every point is validated and fingerprinted before anything runs, so a bad value in a late point stops the
sweep at once, naming the point and the key. A point whose run folder already records a finished run of
the same fingerprints (all still stored) is reused whole; any other point runs through
:func:`mirror_neuron.runner.run_experiment`, which reuses stored steps and resumes interrupted ones from
their chunks. Steps that several points share are computed once: the first point holds the store's lock
on that fingerprint while it computes, and the others then reuse the output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mirror_neuron.errors import UserError, disk_full_is_user_error
from mirror_neuron.log import say
from mirror_neuron.offline import offline
from mirror_neuron.redact import redact, redact_data
from mirror_neuron.report import HTML_NAME, write_atomic
from mirror_neuron.run_folder import (
    DEFAULT_RUNS_DIR,
    TRACKING_DIR,
    check_run_paths,
    missing_folders,
    remove_if_empty,
    slug,
)
from mirror_neuron.runner import (
    PlannedStep,
    RunOptions,
    default_store,
    load_experiment,
    plan,
    run_experiment,
    utc_now,
)
from mirror_neuron.store import PLOTS, Store
from mirror_neuron.sweep.executors import Executor, make_executor
from mirror_neuron.sweep.spec import Point, Sweep, read_sweep
from mirror_neuron.sweep.table import POINTS_FILE, point_row, points_frame, write_points
from mirror_neuron.tracking import Tracker, make_tracker

SWEEP_INDEX = "sweep.json"
SWEEP_FILES = (SWEEP_INDEX, POINTS_FILE, HTML_NAME, PLOTS, TRACKING_DIR)
POINT_NAME = re.compile(r"point-\d+")


@dataclass
class SweepOptions:
    config: Path
    grid: Path | None = None
    offline: bool = False
    overrides: list[str] = field(default_factory=list)
    out: Path | None = None
    store: Path | None = None
    jobs: int | None = None
    ray: bool = False
    ray_address: str | None = None


@dataclass
class PlannedPoint:
    point: Point
    steps: list[PlannedStep]
    tracking: Any  # the point's validated tracking block


@dataclass
class SweepResult:
    out: Path
    table: Any  # pandas.DataFrame, one row per point
    report: Path
    reused: int  # points reused whole
    tracking: str | None


@dataclass
class PointOutcome:
    """What a worker reports back: nothing on success, else the one-line error of the point."""

    error: str | None = None
    exit_code: int = 0


def validate_sweep(config: Path, grid: Path | None, overrides: list[str]) -> tuple[Sweep, list[PlannedPoint]]:
    """Read the sweep and validate and fingerprint every point; the first bad point raises :class:`UserError`
    naming the point (and, through the config error, the key)."""
    sweep = read_sweep(config, grid, overrides)
    planned = []
    for point in sweep.points:
        try:
            experiment = load_experiment(config, overrides, point)
            planned.append(PlannedPoint(point, plan(experiment, None), experiment.tracking))
        except UserError as error:
            raise UserError(f"{point.title} ({point.label()}): {error}") from None
    return sweep, planned


def run_sweep(options: SweepOptions) -> SweepResult:
    """Run every point of the sweep and write ``points.parquet``, ``sweep.json`` and ``report.html``."""
    with offline(options.offline):
        return _run_sweep(options)


def _run_sweep(options: SweepOptions) -> SweepResult:
    from mirror_neuron.sweep.report import write_sweep_report

    sweep, planned = validate_sweep(options.config, options.grid, options.overrides)
    out = (options.out or DEFAULT_RUNS_DIR / slug(sweep.name)).resolve()
    store = Store((options.store or default_store()).resolve())
    shown_out = f"--out {options.out}" if options.out else str(out)
    shown_store = f"--store {options.store}" if options.store else str(store.root)
    check_run_paths(out, store.root, sweep.name, shown_out, shown_store, contents=False)
    _check_sweep_folder(out, sweep.name, shown_out)
    keys, started_at = sweep.spec.keys(), utc_now()
    tasks, rows = [], {}
    for item in planned:
        point_out = out / item.point.name
        row = _finished_row(item, point_out, store)
        if row is not None:
            rows[item.point.index] = row
        else:
            tasks.append(RunOptions(config=options.config.resolve(), offline=options.offline,
                                    overrides=options.overrides, out=point_out, store=store.root, point=item.point))
    # nothing to run: no worker processes, no Ray runtime
    executor = make_executor(options.jobs, options.ray, options.ray_address) if tasks else Executor()
    tracking = planned[0].tracking  # checked now (a W&B login), used once every point has run
    tracker = make_tracker(tracking.backend, tracking.project, tracking.entity, out, options.offline)
    say(f"sweep '{sweep.name}': {len(planned)} point(s), {len(rows)} reused whole, {len(tasks)} to run "
        f"({executor.name}) -> {out}")
    created = missing_folders(out)
    out.mkdir(parents=True, exist_ok=True)
    for index, row in sorted(rows.items()):
        say(f"{planned[index].point.title} ({planned[index].point.label()}): reused whole")
    try:
        with disk_full_is_user_error(out), executor:
            for position, outcome in executor.map(run_point, tasks):
                point = tasks[position].point
                if outcome.error is not None:
                    raise UserError(f"{point.title} ({point.label()}): {outcome.error}")
                rows[point.index] = point_row(point, out / point.name)
                say(f"{point.title} ({point.label()}): finished ({len(rows)}/{len(planned)})")
                write_points(out, points_frame(list(rows.values()), keys))
    finally:
        table = points_frame(list(rows.values()), keys)
        if rows:
            write_points(out, table)
            _write_index(out, sweep, options, planned, executor.name, started_at, len(rows) == len(planned))
        else:
            remove_if_empty(created)  # a sweep that failed before its first point leaves no empty folder
    _track(tracker, sweep, table)
    report = write_sweep_report(out, sweep, table)
    return SweepResult(out, table, report, len(planned) - len(tasks), tracker.location)


def run_point(options: RunOptions) -> PointOutcome:
    """Run one point (in whichever process the executor chose); a user error comes back as its line."""
    try:
        run_experiment(options)
    except UserError as error:
        return PointOutcome(redact(str(error)), error.exit_code)
    return PointOutcome()


def _check_sweep_folder(out: Path, name: str, shown: str) -> None:
    """An existing sweep folder must be empty or hold a sweep of the same name (its own files and points)."""
    if not out.is_dir():
        return
    for entry in out.iterdir():
        point = entry.is_dir() and POINT_NAME.fullmatch(entry.name)
        if entry.name in SWEEP_FILES or entry.name.startswith(".") or point:
            continue
        raise UserError(f"{shown}: holds '{entry.name}', which is not part of a sweep; choose a new or empty folder "
                        "(or the folder of an earlier run of this sweep)")
    try:
        recorded = json.loads((out / SWEEP_INDEX).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return
    if recorded != name:
        raise UserError(f"{shown}: holds the sweep '{recorded}', not '{name}'; choose another --out")


def _finished_row(item: PlannedPoint, point_out: Path, store: Store) -> dict[str, Any] | None:
    """The point's row when its run folder records a finished run of exactly its planned fingerprints and the
    store still holds each output; else None (the point runs)."""
    try:
        index = json.loads((point_out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recorded = {step.get("id"): step.get("fingerprint") for step in index.get("steps", [])}
    expected = {step.entry.id: step.fingerprint for step in item.steps}
    if not index.get("ok") or recorded != expected or not all(store.has_finished(fp) for fp in expected.values()):
        return None
    return point_row(item.point, point_out, reused=True)


def _track(tracker: Tracker, sweep: Sweep, table: Any) -> None:
    """A summary run in the sweep's W&B group holding the points table (each point has its own run there)."""
    tracker.start(redact(f"{sweep.name}.summary"), [], redact_data({"sweep": sweep.spec.model_dump()}),
                  group=sweep.name)
    ok = False
    try:
        tracker.log_table("points", table)
        ok = True
    finally:
        tracker.finish(ok)


def _write_index(out: Path, sweep: Sweep, options: SweepOptions, planned: list[PlannedPoint], executor: str,
                 started_at: str, ok: bool) -> None:
    """``sweep.json``: the sweep, its points and where each one's run folder is."""
    index = {"name": sweep.name, "config": str(options.config), "grid": str(options.grid) if options.grid else None,
             "overrides": options.overrides, "sweep": sweep.spec.model_dump(), "executor": executor,
             "started_at": started_at, "finished_at": utc_now(), "ok": ok, "points_table": POINTS_FILE,
             "points": [{"point": p.point.index, "name": p.point.name, "values": p.point.values} for p in planned]}
    write_atomic(out / SWEEP_INDEX, json.dumps(redact_data(index), indent=2, default=str))
