"""The statistics the judges share: Wilson intervals, percentile intervals of bootstrap draws, the paired
bootstrap and the multiple-comparison corrections."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mirror_neuron.stats import adjust, paired_bootstrap, percentile_interval, wilson_interval


def test_wilson_interval() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_percentile_interval_leaves_out_undefined_draws_and_refuses_mostly_undefined_ones() -> None:
    draws = np.r_[np.arange(1.0, 101.0), np.full(40, np.nan)]
    low, high = percentile_interval(draws, 0.1)
    assert (low, high) == pytest.approx(np.quantile(np.arange(1.0, 101.0), [0.05, 0.95]))
    assert percentile_interval(draws, 0.1, min_defined=0.5) == (low, high)  # 100 of 140 defined
    assert all(math.isnan(v) for v in percentile_interval(draws, 0.1, min_defined=0.75))
    assert all(math.isnan(v) for v in percentile_interval(np.full(5, np.nan), 0.1))


def test_the_paired_bootstrap_finds_a_clear_shift_and_not_a_null_one() -> None:
    noise = np.random.default_rng(0).normal(size=200)
    shifted, null = paired_bootstrap(noise + 1.0, 2000, 0), paired_bootstrap(noise - noise.mean(), 2000, 0)
    assert shifted.p == pytest.approx(2 / 2001) and shifted.interval(0.95)[0] > 0.5
    assert null.p > 0.5 and null.interval(0.95)[0] < 0 < null.interval(0.95)[1]


def test_holm_rejects_what_bonferroni_rejects_and_sometimes_more() -> None:
    p = np.array([0.01, 0.02, 0.03, 0.5])
    np.testing.assert_allclose(adjust(p, "bonferroni"), [0.04, 0.08, 0.12, 1.0])
    np.testing.assert_allclose(adjust(p, "holm"), [0.04, 0.06, 0.06, 0.5])
    with pytest.raises(ValueError, match="unknown correction"):
        adjust(p, "sidak")  # type: ignore[arg-type]


def test_simultaneous_intervals_share_the_error_rate() -> None:
    from mirror_neuron.stats import simultaneous_alpha

    assert simultaneous_alpha(0.95, 4) == pytest.approx(0.0125)
    assert simultaneous_alpha(0.95, 4, "none") == pytest.approx(0.05)
    assert simultaneous_alpha(0.95, 0) == pytest.approx(0.05)
