"""The weight formulas of the reference, each against a hand-computed case."""

from __future__ import annotations

import numpy as np

from mirror_neuron.neuron.weights import ChainLimits, MovingAverage, cap_weights, compute_weights, softmax


def test_2023_softmax_scatter_rule() -> None:
    moving = MovingAverage(np.array([0.0, 0.5, 0.2]), alpha=0.9, rule="softmax_scatter")
    moving.update(np.array([0, 1]), np.array([1.0, 0.0]), np.array([2]))
    e = np.e
    target = np.array([e / (e + 1), 1 / (e + 1), 0.0])
    np.testing.assert_allclose(moving.scores, 0.9 * np.array([0.0, 0.5, 0.2]) + 0.1 * target)
    np.testing.assert_allclose(moving.scores, [0.0731059, 0.4768941, 0.18], atol=1e-7)


def test_later_scatter_rule() -> None:
    moving = MovingAverage(np.array([0.0, 0.5, 0.2, 0.7]), alpha=0.95, rule="scatter")
    moving.update(np.array([0, 1]), np.array([1.0, np.nan]), np.array([2]))
    np.testing.assert_allclose(moving.scores, [0.05, 0.475, 0.19, 0.7])  # uid 3 not queried: unchanged


def test_cap_moves_the_excess_to_the_others_in_proportion() -> None:
    np.testing.assert_allclose(cap_weights(np.array([0.6, 0.2, 0.1, 0.1]), 0.4), [0.4, 0.3, 0.15, 0.15])
    np.testing.assert_allclose(cap_weights(np.array([0.9, 0.1]), 0.4), [0.5, 0.5])  # 2 * 0.4 < 1: uniform
    # fewer positive weights than 1 / limit: nothing to pass the excess to, so they share it (no NaN)
    np.testing.assert_allclose(cap_weights(np.array([3.0, 1.0] + [0.0] * 10), 0.1), [0.5, 0.5] + [0.0] * 10)


def test_exclusion_quantile_then_normalize() -> None:
    weights = compute_weights(np.array([0.5, 0.3, 0.15, 0.05]),
                              ChainLimits(min_allowed_weights=1, max_weight_limit=1.0, exclude_quantile=0.3))
    np.testing.assert_allclose(weights, np.array([0.5, 0.3, 0.15, 0.0]) / 0.95)


def test_too_few_weights_get_a_floor_and_degenerate_scores_give_uniform() -> None:
    weights = compute_weights(np.array([1.0, 0.0, 0.0, 0.0]), ChainLimits(min_allowed_weights=4, max_weight_limit=1.0))
    assert (weights > 0).all() and weights[0] > 0.99
    np.testing.assert_allclose(compute_weights(np.array([np.nan, -1.0, 0.0])), [1 / 3] * 3)
    assert softmax(np.array([1000.0, 1000.0])).tolist() == [0.5, 0.5]


def test_the_originals_clamp_keeps_min_allowed_weights_past_the_quantile() -> None:
    # bittensor's process_weights_for_netuid: k = 10 non-zero weights 1..10 (over 55), min 8, quantile 0.5:
    # max_exclude = (10 - 8) / 10 = 0.2, so the quantile used is min(0.5, 0.2) = 0.2; the 0.2-quantile of
    # 1..10 (linear) is 1 + 0.2 * 9 = 2.8, so 3..10 survive: 8 uids. Unclamped, the 0.5-quantile 5.5 keeps 6..10.
    scores = np.zeros(64)
    scores[:10] = np.arange(1, 11)
    clamped = compute_weights(scores, ChainLimits(8, 1.0, 0.5, quantile_clamp=True))
    unclamped = compute_weights(scores, ChainLimits(8, 1.0, 0.5))
    assert np.flatnonzero(clamped).tolist() == list(range(2, 10))
    np.testing.assert_allclose(clamped[2:10], np.arange(3, 11) / 52)
    assert np.flatnonzero(unclamped).tolist() == list(range(5, 10))


def test_the_originals_give_uniform_weights_to_a_metagraph_smaller_than_min_allowed_weights() -> None:
    # metagraph.n (4) < min_allowed_weights (8): the original returns ones(n) / n whatever the scores
    weights = compute_weights(np.array([0.7, 0.2, 0.1, 0.0]), ChainLimits(8, 1.0, 0.0, quantile_clamp=True))
    np.testing.assert_allclose(weights, [0.25] * 4)
