"""How long `mirror-neuron --help` takes, against a bare `python -c pass`, in one run.

Usage: .venv/bin/python bench/cli_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

REPEATS = 10


def median_seconds(command: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = median_seconds([sys.executable, "-c", "pass"])
    cli = median_seconds([sys.executable, "-m", "mirror_neuron", "--help"])
    print(f"python -c pass:            {bare * 1000:7.1f} ms")
    print(f"mirror-neuron --help:      {cli * 1000:7.1f} ms  (target < 1000 ms)")
    print(f"ratio to bare interpreter: {cli / bare:7.2f}x")


if __name__ == "__main__":
    main()
