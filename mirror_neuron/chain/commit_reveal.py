"""Commit-reveal (yuma.md section 5): weights committed in epoch e become public and count at e + N.

With a reveal period of N epochs, a commit made in epoch e is hidden until epoch e + N, when it is
revealed (the drand version, on by default, reveals it automatically at the start of e + N); a commit
not revealed in e + N expires. N = 0 means off: weights count at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Commit:
    """One hidden weight row: who committed it, when, and what it will reveal."""

    uid: int
    epoch: int
    block: int
    uids: tuple[int, ...]
    values: tuple[float, ...]


def reveal_epoch(commit_epoch: int, period: int) -> int:
    """The epoch in which a commit from ``commit_epoch`` becomes visible."""
    return commit_epoch + period


def is_expired(commit_epoch: int, epoch: int, period: int) -> bool:
    """A commit not revealed by the end of its reveal epoch can no longer be revealed."""
    return epoch > reveal_epoch(commit_epoch, period)


class CommitReveal:
    """The pending commits of a subnet with reveal period ``period`` (epochs).

    ``auto_reveal`` (drand timelock, the default): ``due(epoch)`` returns every commit whose reveal
    epoch has come; without it a validator must call ``reveal(uid, epoch)`` during that epoch.
    """

    def __init__(self, period: int, auto_reveal: bool = True) -> None:
        if period < 1:
            raise ValueError("a reveal period is at least 1 epoch (0 means commit-reveal is off)")
        self.period = period
        self.auto_reveal = auto_reveal
        self.pending: list[Commit] = []
        self.expired: list[Commit] = []

    def commit(self, uid: int, uids: list[int], values: list[float], *, epoch: int, block: int) -> Commit:
        entry = Commit(uid, epoch, block, tuple(int(u) for u in uids), tuple(float(v) for v in values))
        self.pending.append(entry)
        return entry

    def _expire(self, epoch: int) -> None:
        late = [c for c in self.pending if is_expired(c.epoch, epoch, self.period)]
        self.expired.extend(late)
        self.pending = [c for c in self.pending if c not in late]

    def due(self, epoch: int) -> list[Commit]:
        """With auto-reveal: the commits revealed at the start of ``epoch`` (removed from pending)."""
        self._expire(epoch)
        if not self.auto_reveal:
            return []
        ready = [c for c in self.pending if reveal_epoch(c.epoch, self.period) == epoch]
        self.pending = [c for c in self.pending if c not in ready]
        return ready

    def reveal(self, uid: int, epoch: int) -> list[Commit]:
        """A manual reveal by ``uid`` in ``epoch``: its commits whose reveal epoch is ``epoch``."""
        self._expire(epoch)
        ready = [c for c in self.pending if c.uid == uid and reveal_epoch(c.epoch, self.period) == epoch]
        self.pending = [c for c in self.pending if c not in ready]
        return ready

    def pending_commit_blocks(self, n: int) -> np.ndarray:
        """Per uid the block of its oldest pending commit, -1 for none (the epoch's mask d)."""
        blocks = np.full(n, -1, dtype=np.int64)
        for entry in sorted(self.pending, key=lambda c: c.block, reverse=True):
            blocks[entry.uid] = entry.block
        return blocks
