"""``entrypoint: RewardModel``: score a data set with a reward model, chunk by chunk.

Two modes: ``inference`` scores each (question, answer) row once (``reward.form: difference`` gives
the validator's difference reward with shift); ``pairs`` scores (prompt, chosen, rejected) rows,
as HH-RLHF gives them, and stores the pairwise loss and both end scores, with pairwise accuracy and
its 95% Wilson interval in the summary. ``auto`` picks pairs when the data has chosen/rejected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, PositiveInt, field_validator, model_validator

from mirror_neuron.errors import ConfigError
from mirror_neuron.limits import AtMost
from mirror_neuron.log import say
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, configured
from mirror_neuron.neuron.reward.trlx.texts import difference_prompt, difference_reward
from mirror_neuron.registry import component
from mirror_neuron.stats import wilson_interval
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.model.spec import RewardModelSpec, load_reward_model, model_spec
from mirror_neuron.store import Chunk, ChunkWriter, StepOutput

SCALARS = ("loss", "chosen_end_scores", "rejected_end_scores")
TENSORS = ("hidden_states", "tokens", "embeddings")
DETERMINISM_ROWS = 8


class _Loose(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageOptions(_Loose):
    """How a row becomes text. ``unravel: default`` (or false): the question, a blank line, then the
    answer; pairs: the prompt as the data gives it, then each answer. ``unravel: true``: the original's
    unravelled messages, ``"{role}: {content}"`` lines: ``"{roles[0]}: {question}\n{roles[1]}: {answer}"``
    (``roles``: the question's and the answer's role; ``default`` = ``[user, assistant]``). Without
    unravel, ``roles`` change nothing and are left out of the fingerprint; ``reward.form: difference``
    scores the validator's own texts, which no message option changes."""

    roles: Literal["default"] | tuple[str, str] = "default"
    unravel: Literal["default"] | bool = "default"

    @property
    def unravelled(self) -> bool:
        return self.unravel is True

    def role_names(self) -> tuple[str, str]:
        return ("user", "assistant") if self.roles == "default" else self.roles


class TokenizerOptions(_Loose):
    """The original's tokenizer options. ``truncation: true`` cuts every scored text (wrapped in
    ``<|startoftext|>``/``<|endoftext|>`` for trlx) to ``max_length`` tokens; without truncation
    ``max_length`` changes nothing and is left out of the fingerprint. ``padding`` is accepted and changes
    nothing (left out of the fingerprint): each batch is right-padded to its longest row, and a causal
    model's end scores do not see the padding after a text's end."""

    truncation: bool = False
    max_length: Annotated[PositiveInt, AtMost("tokens")] = 550
    padding: str | bool = "max_length"

    @property
    def cut(self) -> int | None:
        """Tokens each text is cut to, or None."""
        return self.max_length if self.truncation else None


ForwardArg = str | bool | int | float | None


class ForwardOptions(_Loose):
    """The original's forward options. ``inference: true`` scores rows once (``mode: inference``, chosen
    when ``mode`` is ``auto``; it contradicts ``mode: pairs``). ``args.output_hidden_states: true`` asks
    for the hidden states: ``hidden_states`` is stored as if listed in ``store``. The other ``args``
    (``input_ids: None``, ``return_dict``, ...) are accepted as the original wrote them and change nothing."""

    inference: bool = False
    args: dict[str, ForwardArg] = {}

    @property
    def hidden_states(self) -> bool:
        return self.args.get("output_hidden_states") is True


class RewardForm(_Loose):
    form: Literal["plain", "difference"] = "plain"
    shift: float = 3.0


class TensorOptions(_Loose):
    """What stored hidden states hold: the ``last`` layer or ``all`` (embeddings included), pooled at
    the ``end`` token (the one the reward is read at) or by ``mean`` over the text."""

    layers: Literal["last", "all"] = "last"
    pool: Literal["end", "mean"] = "end"


class RewardQueryConfig(StepConfig):
    """A reward-model query, in the original's shape plus ``mode`` and ``reward``."""

    chunk_size: PositiveInt = 16  # rows per forward batch
    chunk_rows: PositiveInt = 512  # rows per stored chunk
    shards: PositiveInt = 1  # Ray workers (model replicas) each chunk's rows are split over; 1: this process
    mode: Literal["auto", "inference", "pairs"] = "auto"
    message: MessageOptions = MessageOptions()
    tokenizer: TokenizerOptions = TokenizerOptions()
    forward: ForwardOptions = ForwardOptions()
    reward: RewardForm = RewardForm()
    store: list[str] = list(SCALARS)
    hidden_states: TensorOptions = TensorOptions()

    @field_validator("store")
    @classmethod
    def _known_outputs(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in SCALARS + TENSORS:
                raise ValueError(f"unknown output '{value}'; valid: {', '.join(SCALARS + TENSORS)}")
        return values

    @model_validator(mode="after")
    def _inference_is_not_pairs(self) -> RewardQueryConfig:
        if self.forward.inference and self.mode == "pairs":
            raise ValueError("forward.inference: true scores rows once; it contradicts mode: pairs")
        if self.shards > 1 and self.tensors:
            raise ValueError(f"shards store scores only; storing {', '.join(self.tensors)} needs shards: 1")
        return self

    @property
    def scoring_mode(self) -> Literal["auto", "inference", "pairs"]:
        return "inference" if self.forward.inference else self.mode

    @property
    def outputs(self) -> list[str]:
        """What is stored: ``store``, plus ``hidden_states`` when the forward asks for them."""
        extra = ["hidden_states"] if self.forward.hidden_states and "hidden_states" not in self.store else []
        return [*self.store, *extra]

    @property
    def tensors(self) -> list[str]:
        return [name for name in self.outputs if name in TENSORS]


@component("query", "RewardModel",
           summary="score data with a reward model: rows (inference) or preference pairs (loss, end scores)")
class RewardModelQueryStep(Step):
    section = "query"
    config_class = RewardQueryConfig
    config: RewardQueryConfig

    def resolve(self) -> dict[str, Any]:
        """The options that can change the output, as they act: values that change nothing are left out
        (and, where the config sets them, named in one line at validation)."""
        resolved = super().resolve()
        config = self.config
        resolved["mode"], resolved["store"] = config.scoring_mode, config.outputs
        del resolved["shards"]  # where the rows are scored changes no score
        del resolved["forward"]
        resolved["tokenizer"] = {"max_length": config.tokenizer.cut}
        resolved["message"] = {"roles": list(config.message.role_names())} if config.message.unravelled else {}
        if config.reward.form == "plain":
            resolved["reward"] = {"form": "plain"}
        if not config.tensors:
            del resolved["hidden_states"]
        for keys, why in self._no_ops():
            say(f"note: {self.context.where(*keys)}: changes nothing here ({why}); left out of the fingerprint")
        return resolved

    def _no_ops(self) -> list[tuple[tuple[str, ...], str]]:
        """The options the config sets that cannot change this query's output, with the reason."""
        config, found = self.config, []
        given = config.model_fields_set
        tokenizer, message = config.tokenizer.model_fields_set, config.message.model_fields_set
        if "tokenizer" in given and "padding" in tokenizer:
            found.append((("tokenizer", "padding"), "each batch is right-padded; the end scores do not see it"))
        if "tokenizer" in given and "max_length" in tokenizer and not config.tokenizer.truncation:
            found.append((("tokenizer", "max_length"), "it cuts only with truncation: true"))
        if "message" in given and "roles" in message and not config.message.unravelled:
            found.append((("message", "roles"), "roles name the unravelled messages only (unravel: true)"))
        other_args = sorted(set(config.forward.args) - {"output_hidden_states"})
        if other_args:
            found.append((("forward", "args"), f"{', '.join(other_args)} are accepted as the original wrote them"))
        if "reward" in given and "shift" in config.reward.model_fields_set and config.reward.form == "plain":
            found.append((("reward", "shift"), "the shift applies to form: difference only"))
        if "hidden_states" in given and not config.tensors:
            found.append((("hidden_states",), "no hidden states are stored"))
        return found

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        import pyarrow.parquet as pq

        model_output, data_output = self._inputs(inputs)
        columns = set(pq.read_schema(data_output.table_path()).names)
        pairs = self._pairs_mode(columns)
        spec = model_spec(model_output, RewardModelSpec)
        first_rows = None
        with self._scorer(spec) as scorer:
            for index, rows in enumerate(data_output.iter_batches(batch_rows=self.config.chunk_rows)):
                first_rows = rows if first_rows is None else first_rows
                if index >= writer.completed:  # streamed: memory stays flat as the data grows
                    with writer.chunk() as chunk:
                        scored = scorer.score(rows, pairs)
                        if self.config.tensors:
                            self._store_tensors(scorer.model, rows, pairs, scored, chunk, index)
                        chunk.table("data", scored)
            summary = self._summary(writer, pairs)
            if first_rows is not None:
                summary["max_batch_difference"] = scorer.batch_difference(first_rows, pairs)
        return summary

    @contextlib.contextmanager
    def _scorer(self, spec: RewardModelSpec) -> Iterator[Any]:
        """What scores the chunks: the model in this process, or its replicas on Ray (``shards``)."""
        if self.config.shards > 1:
            from mirror_neuron.steps.query.reward_shards import sharded

            with sharded(self, spec, self.config.shards) as shards:
                yield shards
        else:
            yield InProcessScorer(self, load_reward_model(spec, self.context.config_dir, self.context.seed))

    def score_chunk(self, model: RewardModelBase, rows: pd.DataFrame, pairs: bool) -> pd.DataFrame:
        """The scored table of ``rows``, in ``chunk_size`` batches."""
        with configured(model, self.config.chunk_size, self.config.tokenizer.cut):
            return self._score_pairs(model, rows) if pairs else self._score_rows(model, rows)

    def _texts(self, rows: pd.DataFrame, pairs: bool) -> tuple[list[str], dict[str, list[str]]]:
        """The prompts and, per side (``""`` for rows; ``chosen`` and ``rejected`` for pairs), the
        completions scored, shaped by the ``message`` options."""
        if pairs:
            prompts = _text(rows, "prompt", "question")
            sides = {"chosen": _text(rows, "chosen"), "rejected": _text(rows, "rejected")}
        else:
            prompts = [q.strip() + "\n\n" for q in _text(rows, "question", "prompt")]
            sides = {"": [a.strip() for a in _text(rows, "answer", "chosen")]}
        if self.config.message.unravelled:
            asker, answerer = self.config.message.role_names()
            prompts = [f"{asker}: {p.strip()}\n{answerer}: " for p in prompts]
            sides = {side: [c.strip() for c in completions] for side, completions in sides.items()}
        return prompts, sides

    def _store_tensors(self, model: RewardModelBase, rows: pd.DataFrame, pairs: bool, scored: pd.DataFrame,
                       chunk: Chunk, index: int) -> None:
        """Tensors of this chunk to ``chunks/<n>/tensors.safetensors``; the data table is their index
        (``shard``: the chunk, ``shard_row``: the row inside it; token ids by ``tokens_offset``)."""
        from mirror_neuron.neuron.reward.trlx.reward import RewardModel

        if not isinstance(model, RewardModel):
            raise ConfigError(f"storing {', '.join(self.config.tensors)} needs a trlx reward model",
                              self.context.where("store"))
        options = self.config.hidden_states
        prompts, sides = self._texts(rows, pairs)
        arrays: dict[str, np.ndarray] = {}
        for side, completions in sides.items():
            prefix = f"{side}_" if side else ""
            found = model.features(prompts, completions, options.layers, options.pool)
            for name in self.config.tensors:
                if name == "tokens":
                    lengths = np.array([len(ids) for ids in found["tokens"]])
                    arrays[f"{prefix}tokens"] = np.concatenate(found["tokens"]) if len(lengths) else np.zeros(0, np.int32)
                    scored[f"{prefix}tokens_offset"] = np.concatenate([[0], np.cumsum(lengths)[:-1]])
                    scored[f"{prefix}tokens_length"] = lengths
                else:
                    arrays[f"{prefix}{name}"] = np.asarray(found[name])
        chunk.tensors(arrays)
        scored["shard"] = index
        scored["shard_row"] = np.arange(len(scored))

    def batch_difference(self, model: RewardModelBase, table: pd.DataFrame, pairs: bool) -> float:
        """The largest score difference between this batch size and batch size 1, on a few rows:
        padding a row to a longer batch must not change its score beyond float rounding."""
        rows = table.head(DETERMINISM_ROWS)
        cut = self.config.tokenizer.cut
        with configured(model, self.config.chunk_size, cut):
            batched = self._score_pairs(model, rows) if pairs else self._score_rows(model, rows)
        with configured(model, 1, cut):
            single = self._score_pairs(model, rows) if pairs else self._score_rows(model, rows)
        column = "chosen_end_scores" if pairs else "score"
        return float(np.max(np.abs(batched[column].to_numpy() - single[column].to_numpy())))

    def _inputs(self, inputs: dict[str, StepOutput]) -> tuple[StepOutput, StepOutput]:
        models, data = self.inputs_of(inputs, "model", "reward_model"), self.inputs_of(inputs, "data")
        if len(models) != 1 or len(data) != 1:
            raise ConfigError("a RewardModel query requires one reward_model entry and one data entry",
                              self.context.where("requires"))
        return models[0], data[0]

    def _pairs_mode(self, columns: set[str]) -> bool:
        has_pairs = {"chosen", "rejected"} <= columns
        mode = self.config.scoring_mode
        if mode == "pairs" and not has_pairs:
            raise ConfigError("mode: pairs needs data with chosen and rejected columns", self.context.where("mode"))
        if mode == "inference" and not {"question", "prompt"} & columns:
            raise ConfigError("mode: inference needs data with a question or prompt column", self.context.where("mode"))
        return mode == "pairs" or (mode == "auto" and has_pairs)

    def _score_rows(self, model: RewardModelBase, rows: pd.DataFrame) -> pd.DataFrame:
        questions = _text(rows, "question", "prompt")
        answers = _text(rows, "answer", "chosen")
        out = pd.DataFrame({"row_id": rows["row_id"].tolist(), "prompt": questions, "completion": answers})
        if self.config.reward.form == "plain":
            prompts, sides = self._texts(rows, pairs=False)
            out["score"] = model.score(prompts, sides[""])
            return out
        completions = [a.strip() for a in answers]
        full = model.score([difference_prompt(Query(("user",), (q,))) for q in questions], completions)
        alone = model.score([""] * len(completions), completions)
        out["score_full"], out["score_completion"] = full, alone
        out["score"] = difference_reward(full, alone, self.config.reward.shift)
        return out

    def _score_pairs(self, model: RewardModelBase, rows: pd.DataFrame) -> pd.DataFrame:
        prompts, sides = self._texts(rows, pairs=True)
        scores = model.score_pairs(prompts, sides["chosen"], sides["rejected"])
        out = pd.DataFrame({"row_id": rows["row_id"].tolist(), "prompt": _text(rows, "prompt", "question"),
                            "chosen": _text(rows, "chosen"), "rejected": _text(rows, "rejected")})
        for name in self.config.outputs:
            if name in SCALARS:
                out[name] = scores.column(name)
        if {"chosen_end_scores", "rejected_end_scores"} <= set(out.columns):
            out["correct"] = out["chosen_end_scores"] > out["rejected_end_scores"]
        return out

    def _summary(self, writer: ChunkWriter, pairs: bool) -> dict[str, float]:
        wanted = ["score"] if not pairs else [c for c in ("loss", "correct") if c in self._stored_columns()]
        table = writer.read_tables("data", columns=wanted)
        summary: dict[str, float] = {"rows": float(len(table))}
        if not len(table):
            return summary
        if not pairs:
            summary["mean_score"] = float(table["score"].mean())
            return summary
        if "loss" in table:
            summary["mean_loss"] = float(table["loss"].mean())
        if "correct" in table:
            low, high = wilson_interval(int(table["correct"].sum()), len(table))
            summary.update(accuracy=float(table["correct"].mean()), accuracy_low=low, accuracy_high=high)
        return summary

    def _stored_columns(self) -> set[str]:
        stored = set(self.config.outputs)
        return stored | ({"correct"} if {"chosen_end_scores", "rejected_end_scores"} <= stored else set())


@dataclass
class InProcessScorer:
    """The query's own model, scoring in this process."""

    step: RewardModelQueryStep
    model: RewardModelBase

    def score(self, rows: pd.DataFrame, pairs: bool) -> pd.DataFrame:
        return self.step.score_chunk(self.model, rows, pairs)

    def batch_difference(self, rows: pd.DataFrame, pairs: bool) -> float:
        return self.step.batch_difference(self.model, rows, pairs)


def _text(rows: pd.DataFrame, *columns: str) -> list[str]:
    """The first of ``columns`` that the data has, as strings ("" for nulls)."""
    for column in columns:
        if column in rows:
            return [value if isinstance(value, str) else "" for value in rows[column]]
    return [""] * len(rows)
