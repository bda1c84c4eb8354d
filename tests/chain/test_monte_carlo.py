"""The consensus-guarantees Monte Carlo on a coarse grid: its setup, its read-out, a published series, its plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mirror_neuron.chain.monte_carlo import PUBLISHED, Game, draw, honest_count, plane, plot_contours, utility_needed

COARSE = Game(utilities=np.linspace(0.0, 1.0, 21))  # steps of .05 instead of .02


def test_the_setup_splits_validators_servers_and_stake_as_the_original() -> None:
    assert [honest_count(s, 64) for s in (0.51, 0.6, 0.75, 0.99)] == [32, 38, 48, 63]
    assert honest_count(0.001, 448) == 1 and honest_count(1.0, 448) == 447
    stake, shares, honest_validator, honest_uid = draw(Game(), 0.6)
    assert honest_validator.sum() == 38 and honest_uid.sum() == 38 + 268
    assert np.isclose(stake[:38].sum(), 0.6) and np.isclose(stake[38:64].sum(), 0.4) and not stake[64:].any()
    assert not shares[:, :64].any()  # validators weight servers only
    assert np.allclose(shares[:, 64:64 + 268].sum(-1), 1) and np.allclose(shares[:, 64 + 268:].sum(-1), 1)
    again = draw(Game(), 0.6)
    assert np.array_equal(again[1], shares)  # seed 0 at every grid point


def test_the_read_out_is_the_largest_honest_utility_on_the_retention_contour() -> None:
    utilities = np.linspace(0, 1, 3)
    retention = np.array([[0.2, 0.2, 0.2], [0.5, 0.5, 0.7], [0.9, 0.9, 0.9]])  # (W_H, W_C)
    assert np.isclose(utility_needed(retention, 0.6, utilities), 0.625)  # .5 -> 1 at W_C 0 and .5, .1 of .4 up
    assert np.isnan(utility_needed(retention, 0.95, utilities))


def test_the_validator_share_series_reproduces_the_published_figures_within_two_points() -> None:
    measured = plane(COARSE, 0.6)
    for share, published in PUBLISHED["validator_share"].items():
        assert measured.utility_needed(share) == pytest.approx(published, abs=0.02)
    # an honest majority giving everything to honest servers keeps its share whatever the cabal does
    assert np.all(measured.retention()[-1] >= 0.6)


def test_float32_batches_read_out_as_float64_and_threads_change_nothing() -> None:
    small = Game(utilities=np.linspace(0.0, 1.0, 6))
    exact = plane(small, 0.7, chunk=7, dtype=np.float64)
    fast = plane(small, 0.7, chunk=5, workers=2)
    np.testing.assert_allclose(fast.incentive, exact.incentive, atol=1e-5)
    np.testing.assert_allclose(fast.dividends, exact.dividends, atol=1e-5)


def test_the_contour_plot_is_written(tmp_path: Path) -> None:
    small = Game(utilities=np.linspace(0.0, 1.0, 6))
    planes = {stake: plane(small, stake) for stake in (0.6, 0.8)}
    path = plot_contours(planes, tmp_path / "contours.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
