"""A reward-model query in one process against the same query sharded over 2 Ray workers (``shards: 2``).

Scores NQ-open dev rows (the first ``--rows``) with the SmolLM2 log-probability reward (``kind: log_prob``),
16 rows per batch and 64 per stored chunk, once with ``shards: 1`` and once with ``shards: 2`` (each replica
asks for half a CPU; Ray's start and the replicas' model loading are counted). Prints both wall times, their
ratio and whether the two tables are equal (target on one machine: sharded not slower).

Usage: .venv/bin/python bench/reward_shards.py [--rows 256]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from mirror_neuron.runner import RunOptions, run_experiment

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "nq_open" / "NQ-open.dev.jsonl"
CONFIG = """\
experiment: {{name: shards, seed: 0}}
tracking: {{backend: none}}
model: {{id: m, kind: log_prob, path: smollm2}}
data: {{id: nq, path: {data}, sample: {{method: first, n: {rows}}}}}
query: {{id: q, requires: [m, nq], entrypoint: RewardModel, chunk_size: 16, chunk_rows: 64, shards: {shards}}}
"""


def timed(folder: Path, rows: int, shards: int) -> tuple[float, object]:
    """Wall time of the query step alone (the data step is computed before) and its table."""
    (folder / "c.yml").write_text(CONFIG.format(data=DATA, rows=rows, shards=shards))
    options = RunOptions(config=folder / "c.yml", out=folder / "out", store=folder / "store", steps="nq")
    with contextlib.redirect_stderr(io.StringIO()):
        run_experiment(options)
        start = time.perf_counter()
        result = run_experiment(RunOptions(**{**vars(options), "steps": "q"}))
    return time.perf_counter() - start, result.records[-1].output.table()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        single, single_table = timed(Path(one), args.rows, 1)
        sharded, sharded_table = timed(Path(two), args.rows, 2)
    difference = float(np.max(np.abs(single_table["score"].to_numpy() - sharded_table["score"].to_numpy())))
    same_order = single_table["row_id"].tolist() == sharded_table["row_id"].tolist()
    print(f"reward query: {args.rows} NQ-open rows, SmolLM2 log-probability, 16 rows per batch")
    print(f"one process: {single:6.1f} s  ({args.rows / single:.1f} rows/s)")
    print(f"2 shards:    {sharded:6.1f} s  ({args.rows / sharded:.1f} rows/s; {single / sharded:.2f}x)")
    print(f"same rows in the same order: {same_order}; largest score difference: {difference:.2e}")
    print("target on one machine: sharded not slower than one process")


if __name__ == "__main__":
    main()
