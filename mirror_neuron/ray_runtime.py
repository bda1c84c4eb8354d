"""Starting or joining a Ray runtime, quietly and with the driver's import path, for every part that uses Ray
(a sweep's executor, a reward query's shards), and running independent work on it when one is running (a
tournament's or a network's repetitions inside a point of a sweep on Ray)."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from mirror_neuron.errors import UserError

CONNECT_TIMEOUT_S = 5.0
T = TypeVar("T")
R = TypeVar("R")
_point_cpus: float | None = None  # in a sweep's worker: the CPUs of the cluster its point may fill (None: all)


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """``ray.init``: join the cluster at ``address``, or start a local runtime of ``num_cpus`` CPUs (default:
    all). Workers get the driver's import path; Ray's banner and log deduplication are off."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # every worker's progress lines, not "repeated 3x"
    import ray

    options = {"include_dashboard": False, "logging_level": logging.ERROR,
               "runtime_env": {"env_vars": {"PYTHONPATH": python_path()}}}
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, **options)
        except SystemExit:  # Ray gives up on a cluster it cannot join by exiting
            raise UserError(f"--ray-address {address}: could not join the Ray cluster there") from None
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)


def _check_reachable(address: str) -> None:
    """Refuse at once a ``host:port`` that nothing answers on (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # ray://, auto: Ray's own forms
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise UserError(f"--ray-address {address}: nothing answers there ({error.strerror or error}); start the "
                        "cluster's head with `ray start --head --port PORT` or check the address") from None


def python_path() -> str:
    """The driver's import path, for Ray's workers (the current folder included)."""
    entries = [os.getcwd() if entry == "" else entry for entry in sys.path]
    return os.pathsep.join(dict.fromkeys(entry for entry in entries if os.path.isdir(entry)))


def running() -> bool:
    """Whether this process is connected to a Ray runtime (a sweep's driver or one of its workers); Ray is
    not imported to find out."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def share_cpus(cpus: float | None) -> None:
    """In a sweep's worker: the CPUs of the cluster the point it runs may fill (the cluster's CPUs over the
    points in flight), which bounds what :func:`parallel` allows; None: the whole cluster."""
    global _point_cpus
    _point_cpus = cpus


def parallel(count: int, cpus: float = 1.0) -> bool:
    """Whether ``count`` independent tasks of ``cpus`` CPUs each are worth running as Ray tasks here: a Ray runtime
    is :func:`running`, there are at least two, and this point's share of the cluster (:func:`share_cpus`) holds
    at least two at once. When a sweep's points already fill the CPUs, more tasks would only start more worker
    processes that compete for them."""
    return count > 1 and running() and (_point_cpus is None or _point_cpus >= 2 * cpus)


def in_order(function: Callable[[T], R], items: Sequence[T], cpus: float = 1.0) -> Iterator[R]:
    """``function(item)`` for each item, in order: as Ray tasks of ``cpus`` CPUs each when that is
    :func:`parallel`, else one after another in this process. ``function`` must be a module-level function, so
    that a worker imports it."""
    if not parallel(len(items), cpus):
        for item in items:
            yield function(item)
        return
    import ray

    remote = ray.remote(num_cpus=cpus, max_retries=0)(function)
    pending = [remote.remote(item) for item in items]
    try:
        while pending:
            yield ray.get(pending[0])
            pending.pop(0)
    finally:
        for reference in pending:
            ray.cancel(reference, force=True)
