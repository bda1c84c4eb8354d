"""Bonds and dividends, one function per Yuma version (yuma.md section 3); all batched.

Shapes: ``stake`` (..., r) the rows' active stake, ``weights`` (..., r, n) the bonding weights
W~ = W + beta (W_clipped - W), ``bonds_prev`` (..., r, n), ``consensus`` and ``incentive`` (..., n).
Each returns ``(bonds, dividends)``: the new bonds (..., r, n) before storage, dividends (..., r).
"""

from __future__ import annotations

import numpy as np

from mirror_neuron.chain.matrix import colnorm, norm
from mirror_neuron.chain.params import YumaParams


def classic(stake: np.ndarray, weights: np.ndarray, bonds_prev: np.ndarray, consensus: np.ndarray,
            incentive: np.ndarray, params: YumaParams, present: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """3a (and 3b with liquid alpha): B = colnorm(a * colnorm(diag(s) W~) + (1 - a) * colnorm(B_prev)).

    ``a`` is the EMA rate, or with liquid alpha 1 a per-miner rate from the consensus percentiles.
    ``liquid_alpha_1_weights='old_bonds'`` applies that rate to the old bonds instead (OTF's reading).
    Dividends D = norm(B I). ``present`` is unused: the sparse and dense classic epochs agree.
    """
    delta = colnorm(stake[..., :, None] * weights)
    if params.liquid_alpha:
        rate = liquid_alpha_1(consensus, params)[..., None, :]  # (..., 1, n)
        if params.liquid_alpha_1_weights == "old_bonds":
            rate = 1.0 - rate
    else:
        rate = params.alpha
    if bonds_prev.any():
        bonds = colnorm(rate * delta + (1.0 - rate) * colnorm(bonds_prev))
    else:  # no bonds yet: every column takes delta B at once
        bonds = delta if np.all(np.asarray(rate) > 0) else colnorm(rate * delta)
    dividends = norm((bonds @ incentive[..., :, None])[..., 0])
    return bonds, dividends


def liquid_alpha_1(consensus: np.ndarray, params: YumaParams) -> np.ndarray:
    """Per-miner rate (..., n): a logistic in C_j through (c_lo, alpha_low) and (c_hi, alpha_high).

    c_lo, c_hi are the 25th and 75th percentiles of C (linear interpolation); when c_hi <= c_lo the
    logistic is flat at 1/2 before clamping. Where every C_j is 0 the plain EMA rate applies.
    """
    low, high = params.alpha_low_ratio, params.alpha_high_ratio
    c_low, c_high = np.quantile(consensus, [0.25, 0.75], axis=-1, keepdims=True)
    logit_low, logit_high = np.log(1.0 / low - 1.0), np.log(1.0 / high - 1.0)
    spread = c_low - c_high
    steep = np.where(c_high > c_low, (logit_high - logit_low) / np.where(spread == 0, 1, spread), 0.0)
    shift = np.where(c_high > c_low, logit_low + steep * c_low, 0.0)
    rate = np.clip(1.0 / (1.0 + np.exp(shift - steep * consensus)), low, high)
    return np.where((consensus != 0).any(axis=-1, keepdims=True), rate, params.alpha)


def yuma3(stake: np.ndarray, weights: np.ndarray, bonds_prev: np.ndarray, consensus: np.ndarray,
          incentive: np.ndarray, params: YumaParams, present: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """3c: absolute bonds per validator, B = min(1, (1 - a) B_prev + a W~); D = norm(s * (colnorm(B) I)).

    ``a`` is the EMA rate, or with liquid alpha 2 a rate per validator and miner (see ``liquid_alpha_2``).
    Inactive validators (active stake 0) get no dividends. Where ``present`` is false (an entry the
    chain's sparse matrices do not hold), the bond drops to 0 instead of decaying.
    """
    rate = liquid_alpha_2(weights, bonds_prev, consensus, params) if params.liquid_alpha else params.alpha
    bonds = np.minimum(1.0, (1.0 - rate) * bonds_prev + rate * weights)
    if present is not None:
        bonds = np.where(present, bonds, 0).astype(bonds.dtype)
    dividends = norm(stake * (colnorm(bonds) @ incentive[..., :, None])[..., 0])
    return bonds, dividends


def liquid_alpha_2(weights: np.ndarray, bonds_prev: np.ndarray, consensus: np.ndarray,
                   params: YumaParams) -> np.ndarray | float:
    """Rate (..., r, n): buying (W~ >= B_prev) moves by x = W~ - C_j, selling by x = B_prev - W~.

    sigma = 1 / (1 + exp(-(steepness / 100) (x - 1/2))), rate = alpha_low + sigma (alpha_high - alpha_low).
    Where every C_j is 0 the plain EMA rate applies.
    """
    low, high = params.alpha_low_ratio, params.alpha_high_ratio
    buying = weights >= bonds_prev
    moved = np.clip(np.where(buying, weights - consensus[..., None, :], bonds_prev - weights), 0.0, 1.0)
    sigma = 1.0 / (1.0 + np.exp(-(params.alpha_sigmoid_steepness / 100.0) * (moved - 0.5)))
    rate = np.clip(low + sigma * (high - low), low, high)
    any_consensus = (consensus != 0).any(axis=-1)[..., None, None]
    return np.where(any_consensus, rate, params.alpha)
