"""Speed-up of a sweep's executors: 8 independent tournament points run serially, with ``--jobs 2``, on a
local Ray runtime of 2 CPUs that the sweep starts (``--ray``) and on a running Ray head of 2 CPUs that it
joins (``--ray-address``) (target: at least 1.7x each; scheduling overhead under 1 s per point).

Each point is a tournament with non-neural rewards (256 miners, 2,000 training steps, 2 repetitions), under its
own seed (``seeds: 8``), so no point reuses another's steps; every executor starts from an empty store. The
overhead per point is the wall time the CPUs spent beyond the points' own steps: (wall time x jobs - the sum
of every step's seconds) / points. A local Ray runtime's own start and stop, measured alone, is printed beside
it: a sweep pays it once, whatever its number of points. Prints the four times and the ratios.

Usage: .venv/bin/python bench/sweep.py [--points 8] [--miners 256] [--steps 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from mirror_neuron import ray_runtime
from mirror_neuron.sweep.run import SweepOptions, SweepResult, run_sweep

CONFIG = """\
experiment: {{name: bench, seed: 0}}
tracking: {{backend: none}}
model:
  id: neuron
  type: neuron
  metagraph: {{n: {miners}, validators: 4}}
  miners: {{echo: {{share: 0.05}}, length_padder: {{share: 0.05}}, honest_twin: {{behaviour: honest, share: 0.05}}}}
  gating: {{type: RandomGatingModel}}
  reward: {{type: RewardStack, scorers: {{random: {{type: RandomRewardModel}}}}, filters: {{blacklist: {{}}}}}}
query:
  id: tournament
  requires: [neuron]
  entrypoint: Tournament
  method: train
  steps: {steps}
  repetitions: 2
  controls: [honest_twin]
  resamples: 1000
sweep: {{seeds: {points}}}
"""


def timed(folder: Path, name: str, **executor: object) -> tuple[float, SweepResult]:
    """One sweep of the config in ``folder`` into its own output and store; its wall time and result."""
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # every point's progress lines
        result = run_sweep(SweepOptions(config=folder / "c.yml", out=folder / name, store=folder / f"{name}-store",
                                        **executor))
    return time.perf_counter() - start, result


def ray_start_and_stop() -> float:
    """Seconds to start a local Ray runtime of 2 CPUs and shut it down, with nothing run on it."""
    import ray

    start = time.perf_counter()
    ray_runtime.init(None, 2)
    ray.shutdown()
    return time.perf_counter() - start


@contextlib.contextmanager
def ray_head(folder: Path) -> Iterator[str]:
    """A Ray head of 2 CPUs on loopback, started before (and stopped after) the sweep that joins it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray = Path(sys.executable).with_name("ray")
    process = subprocess.Popen([str(ray), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                                f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                                "--disable-usage-stats", f"--temp-dir={folder / 'ray'}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not _answers(port):
            time.sleep(0.2)
        time.sleep(2)  # its raylet up too
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def overhead(wall: float, jobs: int, result: SweepResult) -> float:
    """Seconds per point the CPUs spent beyond the points' steps."""
    return (wall * jobs - float(result.table["seconds"].sum())) / len(result.table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--miners", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "c.yml").write_text(CONFIG.format(miners=args.miners, steps=args.steps, points=args.points))
        serial, serial_result = timed(folder, "serial")
        jobs, jobs_result = timed(folder, "jobs", jobs=2)
        ray, ray_result = timed(folder, "ray", ray=True, jobs=2)
        runtime = ray_start_and_stop()
        with ray_head(folder) as address:
            joined, joined_result = timed(folder, "joined", ray_address=address)
    print(f"sweep: {args.points} tournament points ({args.miners} miners, {args.steps} steps x 2 repetitions)")
    print(f"serial:  {serial:6.1f} s  (overhead {overhead(serial, 1, serial_result):.2f} s per point)")
    print(f"--jobs 2: {jobs:6.1f} s  speed-up {serial / jobs:.2f}x  (overhead {overhead(jobs, 2, jobs_result):.2f} s "
          "per point)")
    print(f"--ray (2 CPUs): {ray:6.1f} s  speed-up {serial / ray:.2f}x  (overhead {overhead(ray, 2, ray_result):.2f} "
          f"s per point; {overhead(ray - runtime, 2, ray_result):.2f} s beyond the runtime's own start and stop, "
          f"{runtime:.1f} s once per sweep)")
    print(f"--ray-address (a running 2-CPU head): {joined:6.1f} s  speed-up {serial / joined:.2f}x  (overhead "
          f"{overhead(joined, 2, joined_result):.2f} s per point)")
    print("target: speed-up at least 1.7x, overhead under 1 s per point")


if __name__ == "__main__":
    main()
