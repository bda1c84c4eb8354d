"""When epochs run and how an epoch's emission is split (yuma.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    """An epoch's payout per uid (..., n) and the owner's cut (...,); all sum to the emission."""

    miner: np.ndarray
    validator: np.ndarray
    owner: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.miner + self.validator


def split_emission(emission: float | np.ndarray, incentive: np.ndarray, dividends: np.ndarray,
                   active_stake: np.ndarray, stake: np.ndarray, owner_cut: float = 0.0) -> Split:
    """The owner's cut first (0 in 2023; 18% later), then miners by I and validators by D.

    miner_i = E I_i / (sum I + sum D) and validator_i = E D_i / (sum I + sum D): 50/50 when both are
    normalized. When nothing is paid (no weights, all outdated or self-weights), validators get E in
    proportion to active stake, or to stake when no stake is active.
    """
    total = np.asarray(emission, dtype=np.float64)[..., None]
    owner = total * owner_cut
    left = total - owner
    paid = incentive.sum(-1, keepdims=True) + dividends.sum(-1, keepdims=True)
    unpaid = paid == 0
    share = np.where(unpaid, 1, paid)
    fallback = np.where(active_stake.sum(-1, keepdims=True) > 0, active_stake, stake)
    validator = np.where(unpaid, left * fallback, left * dividends / share)
    owner = np.broadcast_to(owner[..., 0], incentive.shape[:-1]).copy()
    return Split(miner=left * incentive / share, validator=validator, owner=owner)


def runs_epoch(block: int, tempo: int, netuid: int = 1) -> bool:
    """Whether the subnet's epoch runs at ``block``: (block + netuid + 1) mod (tempo + 1) == 0."""
    return (block + netuid + 1) % (tempo + 1) == 0


def blocks_until_epoch(block: int, tempo: int, netuid: int = 1) -> int:
    """Blocks from ``block`` to the next block at which the epoch runs (0 when it runs at ``block``)."""
    return (-(block + netuid + 1)) % (tempo + 1)
