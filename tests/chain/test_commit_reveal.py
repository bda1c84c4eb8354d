"""Commit-reveal: a commit from epoch e is visible in epoch e + N, then expires."""

from __future__ import annotations

import pytest

from mirror_neuron.chain.commit_reveal import CommitReveal, is_expired, reveal_epoch


def test_a_commit_from_epoch_e_is_revealed_at_e_plus_n_and_not_before() -> None:
    queue = CommitReveal(period=3)
    queue.commit(4, [1, 2], [0.5, 0.5], epoch=10, block=1000)
    assert [queue.due(e) for e in (10, 11, 12)] == [[], [], []]
    revealed = queue.due(13)
    assert [(c.uid, c.epoch, c.uids) for c in revealed] == [(4, 10, (1, 2))] and queue.pending == []
    assert reveal_epoch(10, 3) == 13


def test_a_manual_commit_not_revealed_in_its_epoch_expires() -> None:
    queue = CommitReveal(period=2, auto_reveal=False)
    queue.commit(1, [3], [1.0], epoch=5, block=500)
    queue.commit(2, [3], [1.0], epoch=5, block=510)
    assert queue.due(7) == [] and queue.reveal(1, 6) == []  # too early: still pending
    assert [c.uid for c in queue.reveal(1, 7)] == [1]
    assert queue.reveal(2, 8) == [] and [c.uid for c in queue.expired] == [2] and queue.pending == []
    assert is_expired(5, 8, 2) and not is_expired(5, 7, 2)


def test_pending_commit_blocks_give_each_uids_oldest_commit() -> None:
    queue = CommitReveal(period=4)
    queue.commit(1, [0], [1.0], epoch=1, block=120)
    queue.commit(1, [0], [1.0], epoch=2, block=230)
    assert queue.pending_commit_blocks(3).tolist() == [-1, 120, -1]


def test_a_zero_period_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 epoch"):
        CommitReveal(period=0)
