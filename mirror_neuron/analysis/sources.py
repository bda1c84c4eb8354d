"""The one frame an analysis reads, made from the output of the step it requires.

Every frame has text columns named as the features name them (``question``, ``completion``,
``answer``, ``chosen``, ``rejected``), numeric columns that can be targets, and ``group``: the prompt,
which cross-validation keeps on one side of each split.

- A RewardModel query over preference pairs: ``question`` (the prompt), ``chosen``, ``rejected``,
  ``loss``, ``chosen_end_scores``, ``rejected_end_scores``, ``correct``.
- A RewardModel query over rows: ``question``, ``completion`` (also ``answer``), ``score``.
- A Neuron query: one row per successful completion, with its ``uid``, ``behaviour``, final
  ``reward``, each reward component (``reward_raw.<name>``, ``reward_normalized.<name>``), its
  ``gating_score`` and ``elapsed``, and the uid's ``weight`` and ``moving_score`` in the last
  weight snapshot.
- Any other step: its ``data`` table, with ``prompt`` read as ``question``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mirror_neuron.analysis.features import TEXTS
from mirror_neuron.store import StepOutput

# Pair targets scored on one side: their length baseline uses that side's length only.
ONE_SIDED = {"chosen_end_scores": ("chosen",), "rejected_end_scores": ("rejected",)}
NOT_TARGETS = {"group", "row_id", "shard", "shard_row", "step", "unit", "uid", "block", "tokens_offset",
               "tokens_length", "chosen_tokens_offset", "chosen_tokens_length", "rejected_tokens_offset",
               "rejected_tokens_length"}


@dataclass
class Frame:
    """Rows to analyse; ``scored``: the texts whose lengths make the length-only baseline."""

    table: pd.DataFrame
    kind: str  # pairs | rows | neuron | table
    scored: tuple[str, ...]

    @property
    def texts(self) -> list[str]:
        return [text for text in TEXTS if text in self.table]

    def targets(self) -> list[str]:
        """Columns that can be predicted or plotted: numbers and booleans that are not ids."""
        return [c for c in self.table.columns if c not in NOT_TARGETS and c not in TEXTS
                and (pd.api.types.is_numeric_dtype(self.table[c]) or pd.api.types.is_bool_dtype(self.table[c]))]

    def baseline_texts(self, target: str) -> tuple[str, ...]:
        return ONE_SIDED.get(target, self.scored) if self.kind == "pairs" else self.scored


def load_frame(output: StepOutput) -> Frame:
    """The analysis frame of one finished step output."""
    manifest = output.manifest
    table = output.table()
    if manifest["kind"] == "query" and manifest["entrypoint"] == "Neuron" and "successful_uids" in table:
        weights = output.table("weights") if output.table_path("weights").exists() else None
        return _grouped(Frame(explode_events(table, weights), "neuron", ("completion",)))
    table = table.rename(columns={"prompt": "question"}) if "question" not in table else table
    if {"chosen", "rejected"} <= set(table.columns):
        return _grouped(Frame(table, "pairs", ("chosen", "rejected")))
    if manifest["kind"] == "query" and manifest["entrypoint"] == "RewardModel":
        table["answer"] = table["completion"]
        return _grouped(Frame(table, "rows", ("completion",)))
    scored = next(((t,) for t in ("completion", "answer", "question") if t in table), ())
    return _grouped(Frame(table, "table", scored))


def _grouped(frame: Frame) -> Frame:
    table = frame.table
    table["group"] = table["question"].fillna("").astype(str) if "question" in table else \
        pd.Series(np.arange(len(table)), index=table.index).astype(str)
    return frame


def explode_events(events: pd.DataFrame, weights: pd.DataFrame | None) -> pd.DataFrame:
    """One row per successful completion of each forward pass (see the module docstring)."""
    components = [c for c in events.columns if c.startswith(("reward_raw.", "reward_normalized."))]
    rows: dict[str, list] = {name: [] for name in ("step", "unit", "uid", "behaviour", "question", "completion",
                                                   "gating_score", "elapsed", "reward", *components)}
    for event in events.to_dict("records"):
        position = {int(uid): index for index, uid in enumerate(event["uids"])}
        for j, uid in enumerate(event["successful_uids"]):
            at = position[int(uid)]
            rows["step"].append(event["step"])
            rows["unit"].append(event.get("unit", event["step"]))
            rows["uid"].append(int(uid))
            rows["behaviour"].append(event["behaviours"][at] if "behaviours" in event else "")
            rows["question"].append(event["prompt"])
            rows["completion"].append(event["completions"][at])
            rows["gating_score"].append(float(event["gating_scores"][at]))
            rows["elapsed"].append(float(event["elapsed"][at]))
            rows["reward"].append(float(event["rewards"][j]))
            for name in components:
                values = event[name]
                rows[name].append(float(values[j]) if values is not None and j < len(values) else np.nan)
    table = pd.DataFrame(rows)
    if weights is not None and len(weights):
        last = weights[weights["step"] == weights["step"].max()].set_index("uid")
        table["weight"] = table["uid"].map(last["weight"]).astype(float)
        table["moving_score"] = table["uid"].map(last["score"]).astype(float)
    return table
