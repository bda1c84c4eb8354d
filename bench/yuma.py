"""Yuma consensus epochs per second, batched and one at a time, and the whole consensus Monte Carlo grid.

Prints, for 64 validators x 512 uids and 256 validators x 4,096 uids (classic bonds and Yuma3, float64,
with previous bonds, activity and outdated-weight masks): epochs/s as one batch and as a loop of single
epochs, and their ratio. Then the Monte Carlo's three published series (honest utility needed to keep 60%
of honest stake) beside ours, and the whole grid (11 x 51 x 51 = 28,611 epochs of 512 uids; target:
under 60 s on 2 CPUs). The last line reads ``monte carlo grid: N epochs in S s``.

Usage: .venv/bin/python bench/yuma.py [--workers 2] [--plot consensus_contours.png]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from mirror_neuron.chain import EpochInputs, YumaParams, epoch
from mirror_neuron.chain.monte_carlo import PUBLISHED, Game, grid, plot_contours, series

SIZES = ((64, 512, 64), (256, 4096, 4))  # validators, uids, epochs per batch


def inputs(validators: int, n: int, batch: int, seed: int = 0) -> EpochInputs:
    """A batch of random subnets at block 10,000: staked validators first, weights on every uid."""
    rng = np.random.default_rng(seed)
    stake = np.zeros((batch, n))
    stake[:, :validators] = rng.lognormal(0, 1, (batch, validators))
    weights = rng.random((batch, validators, n)) * (rng.random((batch, validators, n)) < 0.5)
    return EpochInputs(stake=stake, weights=weights, bonds_prev=rng.random((batch, validators, n)), block=10_000,
                       last_update=rng.integers(4_000, 10_000, (batch, n)),
                       registration_block=rng.integers(0, 9_000, (batch, n)), rows=np.arange(validators))


def single(batched: EpochInputs, b: int) -> EpochInputs:
    """Epoch ``b`` of a batch, as its own inputs."""
    pick = {name: getattr(batched, name) for name in ("stake", "weights", "bonds_prev", "last_update",
                                                       "registration_block")}
    return EpochInputs(**{name: value[b] for name, value in pick.items()}, block=batched.block, rows=batched.rows)


def epochs_per_second(validators: int, n: int, batch: int, params: YumaParams, repeats: int = 3) -> tuple[float, float]:
    """(batched, one-at-a-time) epochs per second, best of ``repeats``."""
    batched = inputs(validators, n, batch)
    singles = [single(batched, b) for b in range(batch)]
    epoch(batched, params)  # warm-up
    best_batch = best_loop = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        epoch(batched, params)
        best_batch = min(best_batch, time.perf_counter() - start)
        start = time.perf_counter()
        for one in singles:
            epoch(one, params)
        best_loop = min(best_loop, time.perf_counter() - start)
    return batch / best_batch, batch / best_loop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2, help="threads for the Monte Carlo grid")
    parser.add_argument("--plot", type=Path, default=None, help="write the grid's contour plot here")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for version in ("yuma1-2023", "yuma3"):
        for validators, n, batch in SIZES:
            batched, loop = epochs_per_second(validators, n, batch, YumaParams(version=version))
            print(f"{version:>10} {validators:4d} validators x {n:5d} uids: {batched:8.1f} epochs/s batched "
                  f"({batch} a batch), {loop:8.1f} one at a time, ratio {batched / loop:.2f}")
    print("Monte Carlo at S_H = 0.6: honest utility needed to keep 60% of honest stake (ours / published)")
    for varied, values in PUBLISHED.items():
        ours = series(varied, tuple(values))
        cells = ", ".join(f"{value:g}: {ours[value]:.1%} / {published:.0%}" for value, published in values.items())
        print(f"  {varied:>15}  {cells}")
    start = time.perf_counter()
    planes = grid(Game(), workers=args.workers)
    seconds = time.perf_counter() - start
    if args.plot:
        plot_contours(planes, args.plot)
        print(f"contour plot: {args.plot}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    epochs = sum(p.incentive.size for p in planes.values())
    print(f"monte carlo grid: {epochs} epochs in {seconds:.1f} s")


if __name__ == "__main__":
    main()
