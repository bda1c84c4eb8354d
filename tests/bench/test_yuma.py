"""bench/yuma.py: its random subnets run batched and one at a time with the same results."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from mirror_neuron.chain import YumaParams, epoch

PATH = Path(__file__).resolve().parents[2] / "bench" / "yuma.py"
SPEC = importlib.util.spec_from_file_location("bench_yuma", PATH)
bench = importlib.util.module_from_spec(SPEC)
sys.modules["bench_yuma"] = bench
SPEC.loader.exec_module(bench)


def test_the_benchs_batch_and_its_loop_compute_the_same_epochs() -> None:
    batched = bench.inputs(validators=4, n=16, batch=3)
    together = epoch(batched, YumaParams(version="yuma3"))
    for b in range(3):
        alone = epoch(bench.single(batched, b), YumaParams(version="yuma3"))
        np.testing.assert_allclose(together.dividends[b], alone.dividends, atol=1e-12)
        np.testing.assert_allclose(together.bonds[b], alone.bonds, atol=1e-12)
    assert np.allclose(together.incentive.sum(-1), 1)
    rates = bench.epochs_per_second(4, 16, 3, YumaParams(), repeats=1)
    assert all(rate > 0 for rate in rates)
