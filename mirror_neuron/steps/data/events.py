"""Event logs of the real openvalidators: one :class:`LoggedEvent` per forward step, read from Parquet/JSON.

The columns are those of ``shared/data/sn1_openvalidators`` (its README describes them): the step
``name``, the ``prompt``, the miners' ``uids``, ``completions`` and ``completion_times``, the kept
``best``, the final ``rewards`` and one column per scorer and filter under the original's names.
Weight-setting events (no step name) are left out; the rest come in logged order (``_step``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirror_neuron.errors import UserError
from mirror_neuron.steps.data.sources import read_records

SCORER_COLUMNS = ("rlhf_reward_model", "reciprocate_reward_model", "dahoas_reward_model", "prompt_reward_model")
FILTER_COLUMNS = ("blacklist_filter", "task_validator_filter", "relevance_filter", "diversity_reward_model",
                  "nsfw_filter")
REQUIRED = ("_step", "name", "prompt", "best", "uids", "completions", "completion_times", "rewards", *FILTER_COLUMNS)


@dataclass(frozen=True)
class LoggedEvent:
    """One logged forward step: what was asked, what 50 miners answered, and how each answer was scored."""

    step: int
    name: str
    prompt: str
    best: str
    uids: tuple[int, ...]
    completions: tuple[str, ...]
    completion_times: np.ndarray
    rewards: np.ndarray
    components: dict[str, np.ndarray]  # per completion, by the original's column name (scorers and filters)

    @property
    def question(self) -> bool:
        """Whether the step asked the miners for a question (``followup*``)."""
        return self.name.startswith("followup")


def read_events(path: Path) -> list[LoggedEvent]:
    """The forward-step events of the log at ``path``, in logged order; a log missing a column is a UserError."""
    records = read_records(Path(path))
    present = set().union(*(record.keys() for record in records)) if records else set()
    missing = [column for column in REQUIRED if column not in present]
    if missing:
        raise UserError(f"{path}: not an openvalidators event log; missing columns: {', '.join(missing)}")
    events = [_event(record, path) for record in records if record.get("name")]
    return sorted(events, key=lambda event: event.step)


def _event(record: dict, path: Path) -> LoggedEvent:
    completions = tuple(str(c) for c in record["completions"])
    n = len(completions)
    components = {column: np.asarray(record[column], dtype=np.float64)
                  for column in (*SCORER_COLUMNS, *FILTER_COLUMNS) if record.get(column) is not None}
    vectors = {"completion_times": np.asarray(record["completion_times"], dtype=np.float64),
               "rewards": np.asarray(record["rewards"], dtype=np.float64), **components}
    for column, values in vectors.items():
        if values.shape != (n,):
            raise UserError(f"{path}: event {record['_step']}: '{column}' has {values.size} values for {n} completions")
    return LoggedEvent(step=int(record["_step"]), name=str(record["name"]), prompt=str(record["prompt"]),
                       best=str(record["best"]), uids=tuple(int(u) for u in record["uids"]), completions=completions,
                       completion_times=vectors["completion_times"], rewards=vectors["rewards"], components=components)
