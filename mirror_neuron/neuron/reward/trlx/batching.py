"""Batch planning for :meth:`TrlxRewardModule.score`: rows sorted by length, grouped under a token
budget, each batch keeping the leading tokens all of its rows share (run once, not once per row)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreBatch:
    """One forward of :meth:`TrlxRewardModule.score`: ``rows`` (indices into the texts, shortest first)
    share the token ids ``prefix``; ``suffixes`` are their remaining ids, each ending at its end token."""

    rows: list[int]
    prefix: list[int]
    suffixes: list[list[int]]

    @property
    def width(self) -> int:
        """The padded length of the suffixes."""
        return max(len(tail) for tail in self.suffixes)


def end_cut(ids: list[int], pad_id: int) -> list[int]:
    """A row's ids up to and including its end token (the one before the first pad); empty when the
    row starts with a pad (the original rule then reads the last position of the padded row)."""
    return ids[:ids.index(pad_id)] if pad_id in ids else list(ids)


def plan_batches(rows: list[list[int] | None], batch_size: int, max_tokens: int) -> list[ScoreBatch]:
    """Batches of the non-None ``rows`` sorted by length (stably): at most ``batch_size`` rows and
    ``max_tokens`` padded tokens (rows x longest) each; every batch keeps its rows' common leading
    ids as ``prefix``, less one token so that each suffix holds at least its end token."""
    order = sorted((i for i, row in enumerate(rows) if row), key=lambda i: len(rows[i]))
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and (len(groups[-1]) + 1) * len(rows[i]) <= max_tokens:
            groups[-1].append(i)
        else:
            groups.append([i])
    batches = []
    for group in groups:
        first = rows[group[0]]
        shared = len(first) - 1  # the shortest row comes first
        for i in group[1:]:
            row = rows[i]
            shared = next((k for k in range(shared) if row[k] != first[k]), shared)
        batches.append(ScoreBatch(group, first[:shared], [rows[i][shared:] for i in group]))
    return batches
