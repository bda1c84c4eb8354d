"""``entrypoint: Neuron``: run the simulated validator over the data's prompts and store every event.

One row per event in table ``data`` (prompt, queried uids and their behaviours, completions, return
codes, latencies, rewards with every component, gating scores), with the fields the originals logged:
``name`` (the step kind), ``step_length``, ``set_weights`` (a weight snapshot followed the event: snapshots are
taken between units, a train step or a prompt, once a unit has crossed a multiple of ``weights_every``) and one
column per scorer and filter under the original's event key (``rlhf_reward_model``, ``blacklist_filter``,
...), aligned with ``uids`` and 0 for failed calls, as openvalidators 1.1 logged them (scorers
normalized, filters as multipliers). Table ``weights`` holds a snapshot of every uid's moving score and
weight every ``weights_every`` forward passes and at the end. The neuron's state is saved with each
chunk, so an interrupted query resumes exactly where it stopped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import PositiveFloat, PositiveInt, model_validator

from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.limits import AtMost
from mirror_neuron.log import Progress
from mirror_neuron.neuron import loops
from mirror_neuron.neuron.config import NeuronConfig, TopK
from mirror_neuron.neuron.neuron import Event, Neuron
from mirror_neuron.neuron.population import MinerError
from mirror_neuron.neuron.reward.memo import MEMO
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig, StepContext
from mirror_neuron.steps.model.spec import model_spec
from mirror_neuron.steps.query.prompts import DataPrompts
from mirror_neuron.store import ChunkWriter, StepOutput

STATE_FILE = "neuron_state.npz"
UNITS = {"forward": "forward passes", "train": "training steps", "inference": "inference calls"}  # progress lines


class NeuronQueryConfig(StepConfig):
    """How to drive the neuron: ``forward`` over each prompt, ``train`` for ``steps``, or ``inference``."""

    method: Literal["forward", "train", "inference"] = "forward"
    steps: Annotated[PositiveInt, AtMost("steps")] | None = None  # train: bootstrap steps (two passes each)
    passes: Annotated[PositiveInt, AtMost("passes")] = 1  # forward / inference: times over the data
    topk: TopK = None  # forward: uids queried (None or -1: all available)
    random_sample_uids: bool = False
    train_gating_model: bool = False
    timeout: PositiveFloat | None = None  # simulated seconds (None: the neuron's)
    dont_use_reward_model: bool = True  # inference
    weights_every: PositiveInt = 50
    chunk_size: PositiveInt = 100  # forward passes (or train steps, or prompts) per stored chunk

    @model_validator(mode="after")
    def _steps_for_train(self) -> NeuronQueryConfig:
        if self.method == "train" and self.steps is None:
            raise ValueError("method 'train' needs steps")
        return self


@component("query", "Neuron",
           summary="run the neuron's forward, train or inference over the data; one row per event, weight snapshots")
class NeuronQueryStep(Step):
    section = "query"
    config_class = NeuronQueryConfig
    config: NeuronQueryConfig

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        model, data = self._inputs(inputs)
        prompts = DataPrompts.of(data.table()) if data is not None else DataPrompts([], [], [])
        questions, contexts, references = prompts.questions, prompts.contexts, prompts.references
        try:
            neuron = Neuron(model_spec(model, NeuronConfig), prompts=questions, seed=self.context.seed,
                            base_dir=self.context.config_dir, contexts=contexts)
        except UserError as error:  # a part that cannot be built or loaded: point at the model entry
            raise ConfigError(error.message, self.context.where_entry(model.manifest["id"])) from None
        neuron.dendrite_pool.learn(questions, references)
        if writer.completed:
            neuron.load(writer.chunk_file(writer.completed - 1, STATE_FILE))
        units = self._units(len(questions))
        size = self.config.chunk_size
        since = MEMO.counts()
        progress = Progress(UNITS[self.config.method], units, min(writer.completed * size, units),
                            lambda: MEMO.activity(since))
        for start in range(writer.completed * size, units, size):
            try:
                rows, weights = self._run_units(neuron, questions, range(start, min(start + size, units)), progress)
            except ConfigError:
                raise
            except UserError as error:  # a part loaded at its first use (a miner's model) cannot be
                raise ConfigError(error.message, self.context.where_entry(model.manifest["id"])) from None
            check_miners(neuron, model, self.context)
            final = start + size >= units
            if final and self.config.method != "inference" and not (weights and neuron.steps_done % self.config.weights_every == 0):
                weights.append(self._weights(neuron))
            with writer.chunk() as chunk:
                chunk.table("data", pd.DataFrame(rows))
                if weights:
                    chunk.table("weights", pd.concat(weights, ignore_index=True))
                neuron.save(chunk.file(STATE_FILE))
            neuron.history.clear()  # stored: keep memory flat
        return self._summary(neuron)

    def _inputs(self, inputs: dict[str, StepOutput]) -> tuple[StepOutput, StepOutput | None]:
        models, data = self.inputs_of(inputs, "model", "neuron"), self.inputs_of(inputs, "data")
        if len(models) != 1 or len(data) > 1 or (not data and self.config.method != "train"):
            raise ConfigError("a Neuron query requires one model entry of type neuron and one data entry "
                              "(train may go without data)", self.context.where("requires"))
        return models[0], data[0] if data else None

    def _units(self, prompts: int) -> int:
        if self.config.method == "train":
            return self.config.steps or 0
        return prompts * self.config.passes

    def _run_units(self, neuron: Neuron, questions: list[str], units: range,
                   progress: Progress) -> tuple[list[dict], list[pd.DataFrame]]:
        rows: list[dict[str, Any]] = []
        weights: list[pd.DataFrame] = []
        config = self.config
        for unit in units:
            if config.method == "inference":
                question = questions[unit % len(questions)]
                answer = neuron.inference([question], timeout=config.timeout,
                                          dont_use_reward_model=config.dont_use_reward_model)
                rows.append({"unit": unit, "prompt": question, "completion": answer})
                progress.advance()
                continue
            seen = len(neuron.history)
            if config.method == "train":
                neuron.train(1)
            else:
                loops.prompt_pass(neuron, questions[unit % len(questions)], topk=config.topk,
                                  random_sample_uids=config.random_sample_uids,
                                  train_gating_model=config.train_gating_model, timeout=config.timeout)
            events = neuron.history[seen:]
            due = [e.weighted and (e.step + 1) % config.weights_every == 0 for e in events]
            for index, event in enumerate(events):
                row = self._row(unit, event, neuron)
                row["set_weights"] = any(due) and index == max(i for i, e in enumerate(events) if e.weighted)
                rows.append(row)
            if any(due):  # snapshots are taken between units: after the unit that crossed a multiple
                weights.append(self._weights(neuron))
            progress.advance()
        return rows, weights

    def _row(self, unit: int, event: Event, neuron: Neuron) -> dict[str, Any]:
        row = event.as_row()
        raw, normalized = row.pop("reward_components"), row.pop("reward_normalized")
        row["unit"] = unit
        row["prompt"] = event.messages[-1]
        row["behaviours"] = [neuron.dendrite_pool.behaviours[uid].name for uid in event.uids]
        row.update({f"reward_raw.{name}": values for name, values in raw.items()})
        row.update({f"reward_normalized.{name}": values for name, values in normalized.items()})
        row.update(original_columns(event, normalized, neuron))
        return row

    def _weights(self, neuron: Neuron) -> pd.DataFrame:
        uids, weights = neuron.compute_weights()
        return pd.DataFrame({"step": neuron.steps_done, "uid": uids, "hotkey": neuron.metagraph.hotkeys,
                             "behaviour": [b.name for b in neuron.dendrite_pool.behaviours],
                             "score": neuron.moving_averaged_scores.scores, "weight": weights})

    def _summary(self, neuron: Neuron) -> dict[str, float]:
        _, weights = neuron.compute_weights()
        names = np.array([b.name for b in neuron.dendrite_pool.behaviours])
        summary = {"forward_passes": float(neuron.steps_done)}
        summary.update({f"weight_share/{name}": float(weights[names == name].sum()) for name in sorted(set(names))})
        return summary


def check_miners(neuron: Neuron, model: StepOutput, context: StepContext) -> None:
    """Stop with one line at the model entry's ``miners`` key when a strategy's code raised on every call."""
    try:
        neuron.dendrite_pool.check_strategies()
    except MinerError as error:
        raise ConfigError(error.message, context.where_entry(model.manifest["id"], "miners", error.miner)) from None


def original_columns(event: Event, normalized: dict[str, list[float]], neuron: Neuron) -> dict[str, list[float]]:
    """The event's scorer and filter values under the originals' event keys (a stack's ``columns()``:
    ``scorer:rlhf`` -> ``rlhf_reward_model``), one per queried uid, 0 for a failed call; other reward
    models have no such columns."""
    names = neuron.reward_model.columns() if hasattr(neuron.reward_model, "columns") else {}
    position = {uid: index for index, uid in enumerate(event.successful_uids)}
    return {names[key]: [float(values[position[uid]]) if uid in position else 0.0 for uid in event.uids]
            for key, values in normalized.items() if key in names}
