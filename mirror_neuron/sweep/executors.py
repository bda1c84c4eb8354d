"""Where a sweep's points run: in this process one after another, in local worker processes (``--jobs N``),
or as Ray tasks (``--ray``: a local Ray runtime; ``--ray-address ADDR``: an existing cluster).

Every executor runs a module-level function over a list of tasks and yields ``(position, result)`` as each
task finishes; leaving its block stops what has not started (and, for Ray, always calls ``ray.shutdown()``).
Workers share nothing but the store: a step two points share is computed once, under the store's lock.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from mirror_neuron.errors import UserError

POINT_CPUS = 0.5  # Ray CPUs a point asks for: a fraction, so that the Ray work a point starts itself finds room
# on a 2-CPU machine; how many points run at once is bounded by ``jobs``, not by these requests.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Executor:
    """Runs points one after another in this process."""

    name = "serial"
    jobs = 1

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, function: Callable[[Any], Any], tasks: list[Any]) -> Iterator[tuple[int, Any]]:
        for position, task in enumerate(tasks):
            yield position, function(task)


class Processes(Executor):
    """``--jobs N``: N local worker processes (started fresh, each with its share of the CPU threads)."""

    name = "processes"

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> Processes:
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        self.pool = concurrent.futures.ProcessPoolExecutor(
            self.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_limit_threads,
            initargs=(threads,))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)  # running points finish their current step
            self.pool = None

    def map(self, function: Callable[[Any], Any], tasks: list[Any]) -> Iterator[tuple[int, Any]]:
        assert self.pool is not None, "use the executor as a context manager"
        futures = {self.pool.submit(function, task): position for position, task in enumerate(tasks)}
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()


class Ray(Executor):
    """``--ray`` (a local Ray runtime of ``jobs`` CPUs, default all) or ``--ray-address ADDR`` (join a cluster,
    ``jobs`` default: its CPUs). At most ``jobs`` points are in flight, each asking :data:`POINT_CPUS`."""

    name = "ray"

    def __init__(self, jobs: int | None, address: str | None) -> None:
        self.requested_jobs, self.address = jobs, address
        self.jobs = jobs or 1

    def __enter__(self) -> Ray:
        import ray

        from mirror_neuron import ray_runtime

        try:
            ray_runtime.init(self.address, self.requested_jobs)
        except (ConnectionError, ValueError, RuntimeError) as error:
            ray.shutdown()
            where = f"--ray-address {self.address}" if self.address else "--ray"
            raise UserError(f"{where}: cannot start or join a Ray runtime ({' '.join(str(error).split())[:200]})")
        self.jobs = self.requested_jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        ray.shutdown()

    def map(self, function: Callable[[Any], Any], tasks: list[Any]) -> Iterator[tuple[int, Any]]:
        import ray

        remote = ray.remote(num_cpus=POINT_CPUS, max_retries=0)(_in_folder).options(name="point")
        folder, waiting = os.getcwd(), list(enumerate(tasks))
        share = ray.cluster_resources().get("CPU", 1) / min(self.jobs, len(tasks))  # what each point may fill
        flying: dict[Any, int] = {}
        try:
            while waiting or flying:
                while waiting and len(flying) < self.jobs:
                    position, task = waiting.pop(0)
                    flying[remote.remote(folder, function, task, share)] = position
                done, _ = ray.wait(list(flying), num_returns=1)
                position = flying.pop(done[0])
                yield position, ray.get(done[0])
        finally:
            for reference in flying:
                ray.cancel(reference, force=True)


def make_executor(jobs: int | None, ray: bool, address: str | None) -> Executor:
    """The executor the sweep's options ask for."""
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: expected a positive number of points at once")
    if ray or address:
        return Ray(jobs, address)
    return Processes(jobs) if jobs and jobs > 1 else Executor()


def _in_folder(folder: str, function: Callable[[Any], Any], task: Any, share: float) -> Any:
    """Run ``function(task)`` in the driver's working folder, so that relative paths and ``module:attr``
    components resolve as they do for the driver (on a cluster: the same paths on every node), its own Ray
    tasks bounded by its ``share`` of the cluster's CPUs."""
    from mirror_neuron import ray_runtime

    ray_runtime.share_cpus(share)
    os.chdir(folder)
    if "" not in sys.path:
        sys.path.insert(0, "")
    return function(task)


def _limit_threads(threads: int) -> None:
    """In a worker process: use ``threads`` CPU threads (torch, BLAS), so that N workers share the cores."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    if "" not in sys.path:
        sys.path.insert(0, "")
