"""The replay miner: what real subnet-1 miners answered, read from an openvalidators event log."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from pydantic import PrivateAttr, field_validator

from mirror_neuron.errors import UserError
from mirror_neuron.neuron.miners.base import Behaviour, Query
from mirror_neuron.registry import component
from mirror_neuron.steps.data.events import LoggedEvent, read_events

REPO = Path(__file__).resolve().parents[3]
DEFAULT_EVENTS = REPO.parent / "shared" / "data" / "sn1_openvalidators" / "events.2023-08-06.part1.parquet"


@functools.cache
def _events_by_prompt(path: Path) -> dict[str, tuple[LoggedEvent, ...]]:
    """The log's events by prompt, in logged order (a prompt asked twice has two)."""
    found: dict[str, list[LoggedEvent]] = {}
    for event in read_events(path):
        found.setdefault(event.prompt, []).append(event)
    return {prompt: tuple(events) for prompt, events in found.items()}


@component("behaviour", "replay",
           summary="what a real 2023 subnet-1 miner answered to a logged prompt, at its logged time (events: a log)")
class Replay(Behaviour):
    """Answers a logged prompt with a real miner's logged completion, in the logged elapsed time.

    ``events`` is an openvalidators event log (Parquet or JSON, as in ``shared/data/sn1_openvalidators``;
    a relative path is read from the working directory; default: the 2023-08-06 log). Uid ``u`` plays
    the ``u mod 50``-th miner of the event (its ``u mod n``-th completion, for ``n`` completions); uids
    from 50 on play the next event logged with the same prompt when there is one. An empty logged
    completion (a call that returned nothing, 64% of the log) is a failed call; a prompt the log does
    not hold gets no answer (an empty response), with the drawn latency.
    """

    events: str = str(DEFAULT_EVENTS)
    _by_prompt: dict[str, tuple[LoggedEvent, ...]] = PrivateAttr(default_factory=dict)

    @field_validator("events")
    @classmethod
    def _readable(cls, events: str) -> str:
        """The log, read once (shared by every uid that plays it); a missing or malformed one is an error."""
        path = Path(events).expanduser().resolve()
        if not path.is_file():
            raise ValueError(f"no such event log: {path}")
        try:
            _events_by_prompt(path)
        except UserError as error:
            raise ValueError(error.message) from None
        return events

    def model_post_init(self, context: object) -> None:
        self._by_prompt = _events_by_prompt(Path(self.events).expanduser().resolve())

    def logged(self, query: Query, uid: int) -> tuple[str, float] | None:
        """The (completion, seconds) that ``uid`` replays for ``query``, or None for a prompt not in the log."""
        events = self._by_prompt.get(query.prompt)
        if not events:
            return None
        event = events[(uid // 50) % len(events)]
        slot = uid % len(event.completions)
        return event.completions[slot], float(event.completion_times[slot])

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        found = self.logged(query, uid)
        return found[0] if found else None

    def elapsed(self, query: Query, uid: int) -> float | None:
        found = self.logged(query, uid)
        return found[1] if found else None
