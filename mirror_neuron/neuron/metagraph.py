"""The metagraph: the table of uids with hotkeys, serving flags, stakes and validator permits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Metagraph:
    """``n`` uids. Hotkeys change when a uid is re-registered (:meth:`churn`)."""

    hotkeys: list[str]
    is_serving: np.ndarray
    stake: np.ndarray
    validator_permit: np.ndarray
    block: int = 0
    _next_hotkey: int = 0
    generation: int = 0  # bumped by every churn, so readers re-check hotkeys only when they changed

    @classmethod
    def create(cls, n: int, not_serving: float = 0.0, validators: int = 0, seed: int = 0) -> Metagraph:
        """A metagraph of ``n`` uids; a ``not_serving`` share do not serve, ``validators`` uids hold permits.

        Validators hold the largest stakes, as on chain; which uids they are is drawn with ``seed``.
        """
        if n < 1:
            raise ValueError("a metagraph needs at least one uid")
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        validator_permit = np.zeros(n, dtype=bool)
        validator_permit[order[:validators]] = True
        is_serving = np.ones(n, dtype=bool)
        is_serving[order[validators:validators + round(not_serving * n)]] = False
        stake = rng.gamma(1.0, 10.0, n)
        stake[validator_permit] += 10_000.0
        return cls([f"hotkey-{uid}" for uid in range(n)], is_serving, stake, validator_permit, 0, n)

    @property
    def n(self) -> int:
        return len(self.hotkeys)

    @property
    def uids(self) -> np.ndarray:
        return np.arange(self.n)

    def available_uids(self, vpermit_tao_limit: float | None = None) -> np.ndarray:
        """Uids the validator may query: serving, and without a validator permit unless their stake is at
        most ``vpermit_tao_limit`` (None: every permit holder is skipped, as core v5.0.0 did)."""
        permitted = self.validator_permit if vpermit_tao_limit is None else \
            self.validator_permit & (self.stake > vpermit_tao_limit)
        return np.flatnonzero(self.is_serving & ~permitted)

    def churn(self, uids: np.ndarray | list[int]) -> None:
        """Re-register ``uids`` under new hotkeys (a new miner takes each slot)."""
        for uid in uids:
            self.hotkeys[int(uid)] = f"hotkey-{self._next_hotkey}"
            self._next_hotkey += 1
        self.generation += 1

    def changed_hotkeys(self, previous: list[str]) -> np.ndarray:
        """Uids whose hotkey differs from ``previous`` (a snapshot of :attr:`hotkeys`)."""
        return np.array([uid for uid, (old, new) in enumerate(zip(previous, self.hotkeys)) if old != new], dtype=int)
