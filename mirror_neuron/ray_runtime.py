"""Starting or joining a Ray runtime, quietly and with the driver's import path, for every part that uses Ray
(a sweep's executor, a reward query's shards)."""

from __future__ import annotations

import logging
import os
import sys


def init(address: str | None = None, num_cpus: int | None = None) -> None:
    """``ray.init``: join the cluster at ``address``, or start a local runtime of ``num_cpus`` CPUs (default:
    all). Workers get the driver's import path; Ray's banner and log deduplication are off."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # every worker's progress lines, not "repeated 3x"
    import ray

    options = {"include_dashboard": False, "logging_level": logging.ERROR,
               "runtime_env": {"env_vars": {"PYTHONPATH": python_path()}}}
    if address:
        ray.init(address=address, **options)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)


def python_path() -> str:
    """The driver's import path, for Ray's workers (the current folder included)."""
    entries = [os.getcwd() if entry == "" else entry for entry in sys.path]
    return os.pathsep.join(dict.fromkeys(entry for entry in entries if os.path.isdir(entry)))
