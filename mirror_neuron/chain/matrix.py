"""The epoch's vector arithmetic, batched: every function works on arrays with any leading batch axes.

norm(x) = x / sum(x), left unchanged where the sum is 0 (the chain's ``inplace_normalize``).
"""

from __future__ import annotations

import numpy as np

from mirror_neuron.chain.params import U16


def norm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x`` divided by its sum along ``axis``; a zero sum leaves that slice as it is."""
    total = x.sum(axis=axis, keepdims=True)
    return x / np.where(total == 0, 1, total)


def rownorm(matrix: np.ndarray) -> np.ndarray:
    """Each row sums to 1 (rows of zeros stay zero)."""
    return norm(matrix, axis=-1)


def colnorm(matrix: np.ndarray) -> np.ndarray:
    """Each column sums to 1 (columns of zeros stay zero)."""
    return norm(matrix, axis=-2)


def weighted_median(stake: np.ndarray, weights: np.ndarray, kappa: float) -> np.ndarray:
    """Consensus per column: the largest weight backed by at least ``kappa`` of the stake.

    ``C_j = max{w in W[:, j] : sum of stake_i with W_ij >= w >= kappa}``; zeros count and ties resolve
    upward (stake [.5, .5], weights [.2, .8] give .8). ``stake`` (..., r) is the rows' share of the
    whole stake (stake outside the rows counts as weight 0); ``weights`` (..., r, n). Returns (..., n).
    """
    columns = np.swapaxes(weights, -1, -2)  # (..., n, r): sort each column's r weights
    order = np.argsort(columns, axis=-1, kind="stable")
    values = np.take_along_axis(columns, order, axis=-1)
    backing = np.take_along_axis(np.broadcast_to(stake[..., None, :], columns.shape), order, axis=-1)
    above = np.flip(np.cumsum(np.flip(backing, -1), axis=-1), -1)  # stake at or above each sorted weight
    backed = (above >= kappa - 1e-12).sum(axis=-1)  # sorted positions 0..backed-1 have enough stake above
    last = np.take_along_axis(values, np.maximum(backed - 1, 0)[..., None], axis=-1)[..., 0]
    return np.where(backed > 0, last, 0).astype(weights.dtype)


def quantized_consensus(consensus: np.ndarray) -> np.ndarray:
    """C normalized to sum 1 and floored to u16, as the public Python simulators do before clipping."""
    return np.floor(U16 * norm(consensus)) / U16


def top_k(values: np.ndarray, k: int, positive_only: bool = False) -> np.ndarray:
    """Mask of the ``k`` largest entries along the last axis; ties go to the higher index."""
    n = values.shape[-1]
    order = np.argsort(values, axis=-1, kind="stable")  # equal values keep index order: higher uids last
    chosen = np.zeros(values.shape, dtype=bool)
    np.put_along_axis(chosen, order[..., max(n - k, 0):], True, axis=-1)
    return chosen & (values > 0) if positive_only else chosen


def floor_u16(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as the chain stores them: ``floor(65535 * x) / 65535``."""
    return np.floor(U16 * x) / U16
