"""set_weights as the chain accepts or rejects it (yuma.md section 1.6), and the stored weight rows.

A rejected call changes nothing and is reported with the chain's error name and a readable reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mirror_neuron.chain.params import U16, WeightRules


@dataclass(frozen=True)
class SetWeightsOutcome:
    """``accepted``, or the chain's ``error`` (e.g. ``SettingWeightsTooFast``) with a ``reason``."""

    uid: int
    block: int
    accepted: bool
    error: str | None = None
    reason: str | None = None


def max_upscale_u16(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weights as the chain stores them: scaled so the largest is 65535, rounded down to u16."""
    values = np.asarray(values, dtype=np.float64)
    top = values.max() if values.size else 0.0
    return np.zeros(values.shape, np.int64) if top <= 0 else np.floor(U16 * values / top).astype(np.int64)


def check_set_weights(uid: int, uids: Sequence[int], values: Sequence[float], *, n: int, has_permit: bool,
                      block: int, last_update: int, rules: WeightRules) -> SetWeightsOutcome:
    """Whether the chain accepts ``uid`` setting ``values`` on ``uids`` at ``block``.

    Checks, in the chain's order: the rate limit (``weights_set_rate_limit`` blocks since
    ``last_update``; a uid that never set weights, ``last_update`` < 0, may), equal lengths, no
    duplicate uids, uids that exist, at least min(min_allowed_weights, n) entries, a validator permit,
    and no normalized weight above max_weight_limit / 65535. A lone self-weight needs neither permit,
    length nor limit.
    """
    uids = [int(u) for u in uids]
    values = np.asarray(values, dtype=np.float64)

    def rejected(error: str, reason: str) -> SetWeightsOutcome:
        return SetWeightsOutcome(uid, block, False, error, reason)

    if last_update >= 0 and block - last_update < rules.weights_set_rate_limit:
        return rejected("SettingWeightsTooFast", f"{block - last_update} blocks since the last set_weights, "
                        f"the limit is {rules.weights_set_rate_limit}")
    if len(uids) != len(values):
        return rejected("WeightVecNotEqualSize", f"{len(uids)} uids but {len(values)} values")
    if len(set(uids)) != len(uids):
        return rejected("DuplicateUids", "a uid appears twice")
    if any(u < 0 or u >= n for u in uids):
        return rejected("UidVecContainInvalidOne", f"a uid is outside 0..{n - 1}")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        return rejected("InvalidWeights", "weights must be finite and non-negative")
    self_weight = uids == [uid]
    needed = min(rules.min_allowed_weights, n)
    if not self_weight and len(uids) < needed:
        return rejected("WeightVecLengthIsLow", f"{len(uids)} weights, at least {needed} are required")
    if not self_weight and not has_permit:
        return rejected("NeuronNoValidatorPermit", f"uid {uid} has no validator permit")
    stored = max_upscale_u16(values)
    total = stored.sum()
    largest = int(stored.max() * U16 // total) if total > 0 else 0
    if not self_weight and largest > rules.max_weight_limit:
        return rejected("MaxWeightExceeded", f"the largest weight is {largest / U16:.4f} of the total, the limit "
                        f"is {rules.max_weight_limit / U16:.4f}")
    return SetWeightsOutcome(uid, block, True)


class WeightStore:
    """The subnet's stored weight rows, each uid's last_update (-1: never set) and registration block,
    fed only by accepted set_weights; ``present`` marks the stored entries (explicit zeros included)."""

    def __init__(self, n: int, rules: WeightRules) -> None:
        self.rules = rules
        self.weights = np.zeros((n, n), dtype=np.float64)
        self.present = np.zeros((n, n), dtype=bool)
        self.last_update = np.full(n, -1, dtype=np.int64)
        self.registration_block = np.zeros(n, dtype=np.int64)
        self.rejected: list[SetWeightsOutcome] = []

    @property
    def n(self) -> int:
        return self.weights.shape[0]

    def set_weights(self, uid: int, uids: Sequence[int], values: Sequence[float], *, block: int,
                    has_permit: bool) -> SetWeightsOutcome:
        """Apply the call if the chain would accept it; a rejection is kept in ``rejected``."""
        outcome = check_set_weights(uid, uids, values, n=self.n, has_permit=has_permit, block=block,
                                    last_update=int(self.last_update[uid]), rules=self.rules)
        if not outcome.accepted:
            self.rejected.append(outcome)
            return outcome
        row = np.zeros(self.n, dtype=np.float64)
        row[np.asarray(uids, dtype=int)] = max_upscale_u16(values)
        self.weights[uid] = row / U16
        self.present[uid] = False
        self.present[uid, np.asarray(uids, dtype=int)] = True
        self.last_update[uid] = block
        return outcome

    def register(self, uid: int, block: int) -> None:
        """A new hotkey takes ``uid`` at ``block``: its own weights and last_update are cleared (others'
        weights on it become outdated through the registration block)."""
        self.weights[uid] = 0.0
        self.present[uid] = False
        self.last_update[uid] = -1
        self.registration_block[uid] = block
