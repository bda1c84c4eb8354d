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
    whole stake (stake outside the rows counts as weight 0); ``weights`` (..., r, n), non-negative.
    Returns (..., n). Sums run in the weights' precision (float32 or float64).
    """
    *batch, r, _ = weights.shape
    stake = np.broadcast_to(np.asarray(stake, dtype=weights.dtype), tuple(batch) + (r,))
    order = _sorted_rows(weights)  # (..., n, r): per column, the rows in ascending order of weight
    if stake.ndim == 1 or (stake == stake.reshape(-1, r)[:1].reshape((1,) * len(batch) + (r,))).all():
        backing = np.take(stake.reshape(-1)[:r], order)  # one stake vector for the whole batch
    else:
        offsets = (np.arange(int(np.prod(batch))) * r).reshape(tuple(batch) + (1, 1))
        backing = np.take(np.ascontiguousarray(stake).reshape(-1), order + offsets)
    below = np.cumsum(backing, axis=-1)
    below -= backing  # stake strictly before each sorted entry
    slack = stake.sum(axis=-1)[..., None, None] - kappa + (1e-12 if weights.dtype == np.float64 else 1e-6)
    backed = np.count_nonzero(below <= slack, axis=-1)  # sorted entries 0..backed-1 have enough stake above
    chosen = np.take_along_axis(order, np.maximum(backed - 1, 0)[..., None], axis=-1)  # (..., n, 1)
    value = np.take_along_axis(weights, np.swapaxes(chosen, -1, -2), axis=-2)[..., 0, :]
    return np.where(backed > 0, value, 0).astype(weights.dtype)


def _sorted_rows(weights: np.ndarray) -> np.ndarray:
    """Row indices sorting each column ascending (..., n, r), by one integer sort of packed keys.

    A non-negative float's bit pattern orders like the float, so the weight goes in the high bits and
    the row index in the low bits (exact for float32; for float64 it replaces the lowest mantissa
    bits, an ordering error below 2**-40 relative for up to 4,096 rows).
    """
    r = weights.shape[-2]
    columns = np.swapaxes(weights, -1, -2)
    keys = np.empty(columns.shape, dtype=np.int64)
    if weights.dtype == np.float32:
        keys[...] = columns.view(np.int32)
        keys <<= 32
        mask = (1 << 32) - 1
    else:
        keys[...] = columns.view(np.int64)
        mask = (1 << max(int(r - 1).bit_length(), 1)) - 1
        keys &= ~mask
    keys |= np.arange(r, dtype=np.int64)
    keys.sort(axis=-1)
    keys &= mask
    return keys


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
