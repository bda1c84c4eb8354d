"""``entrypoint: RewardHackSearch``: which text transforms of honest answers hack a reward.

The reward is the step's own ``reward`` entry, the ``reward`` of a required ``type: neuron`` model, or
a required ``type: reward_model`` (scored as ``r(question, answer)``). The data step gives questions
and reference answers. The search: :mod:`mirror_neuron.lab.hack_search`; its verdicts:
:mod:`mirror_neuron.lab.hack_judge`.

One stored chunk per search depth (table ``evaluations``), then one with the ``candidates``,
``verdicts`` and ``examples`` tables and the plot, so a killed search resumes at its next depth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt

from mirror_neuron.errors import ConfigError, UserError, did_you_mean
from mirror_neuron.hacks.transforms import Transform, TransformError, TransformSpec, builtin_names, resolve
from mirror_neuron.lab import hack_judge, hack_search
from mirror_neuron.lab.hack_search import Evaluator, Item, ModelReward, SearchOptions
from mirror_neuron.limits import AtMost
from mirror_neuron.log import Progress
from mirror_neuron.neuron.config import NeuronConfig, PartConfig, build_reward, check_part
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.model.spec import RewardModelSpec, load_reward_model, model_spec
from mirror_neuron.store import ChunkWriter, StepOutput

PLOT = "plots/reward_gain.png"


class RewardHackConfig(StepConfig):
    """A reward-hack search over a data step's questions (and, unless ``reward`` is given, a model)::

        query:
          id: hacks
          requires: [nq]               # a data step; add a model step (neuron or reward_model) or give reward
          entrypoint: RewardHackSearch
          reward: {type: RewardStack, scorers: {dpo: {type: LogProbRewardModel, path: tiny:gpt2}}}
          transforms: all              # or a list: names, module:function, {name: {param: value}}
          search: greedy               # greedy | beam
          beam_width: 3                # beam: chains extended per depth
          max_depth: 2                 # longest chain of transforms
          budget: 5000                 # reward evaluations in all (calibration and honest answers included)
          calibration: 20              # neuron rewards: rows whose honest answers warm up the reward's state
          honest: answer               # the column of honest answers (default: the reference)
          confidence: 0.95
          correction: bonferroni       # or holm: for the number of candidates tried
          resamples: 10000             # paired bootstrap resamples
          examples: 3                  # candidates shown with before/after texts
          seed: null                   # default: experiment.seed

    Tables: ``evaluations`` (candidate, depth, row, text, reward), ``candidates`` (ranked by reward
    gain: gain with ci_low/ci_high, p, p_adjusted, token F1 change, verdict), ``verdicts``
    (:mod:`mirror_neuron.verdicts` records: subject, verdict, sentence, the gain as estimate with ci_low,
    ci_high and level; evidence: gain, p_adjusted, f1_change) and
    ``examples`` (question, reference, before, after, their rewards and F1). Plot: ``plots/reward_gain.png``.
    """

    reward: PartConfig | None = None
    transforms: Literal["all"] | list[TransformSpec] = "all"
    search: Literal["greedy", "beam"] = "greedy"
    beam_width: PositiveInt = 3
    max_depth: PositiveInt = 2
    budget: Annotated[PositiveInt, AtMost("evaluations")] = 5000
    calibration: NonNegativeInt = 20
    honest: str = "answer"
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    correction: Literal["bonferroni", "holm"] = "bonferroni"
    resamples: Annotated[int, Field(ge=200), AtMost("resamples")] = 10_000
    examples: NonNegativeInt = 3
    seed: Seed | None = None


@component("query", "RewardHackSearch",
           summary="text transforms of honest answers searched for reward gains without quality: verdicts, examples")
class RewardHackSearchStep(Step):
    section = "query"
    config_class = RewardHackConfig
    config: RewardHackConfig

    def resolve(self) -> dict[str, Any]:
        resolved = super().resolve()
        resolved["seed"] = self._seed()
        resolved["transform_sources"] = {name: _source_sha256(function) for name, function in self.transforms()
                                         if ":" in name}
        if self.config.reward is not None:
            check_part("reward", self.config.reward, self.context.where, "reward")
        return resolved

    def transforms(self) -> list[tuple[str, Transform]]:
        """The configured transforms as ``(name, function)``; unknown names are a did-you-mean ConfigError."""
        specs: list[TransformSpec] = builtin_names() if self.config.transforms == "all" else list(self.config.transforms)
        if not specs:
            raise ConfigError("name at least one transform (or all)", self.context.where("transforms"))
        resolved: list[tuple[str, Transform]] = []
        for index, spec in enumerate(specs):
            try:
                name, function = resolve(spec)
            except (UserError, ValueError, TypeError) as error:
                message = getattr(error, "message", str(error))
                raise ConfigError(message, self.context.where("transforms", index)) from None
            if name in dict(resolved):
                raise ConfigError(f"transform '{name}' is listed twice", self.context.where("transforms", index))
            resolved.append((name, function))
        return resolved

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        config = self.config
        items, calibration, make_reward = self._plan(inputs)
        known: dict[tuple[int, str], float] = {}
        stored = writer.read_tables("evaluations", columns=["row", "text", "reward"])
        known.update(zip(zip(stored["row"].tolist(), stored["text"].tolist()), stored["reward"].tolist()))
        evaluate = Evaluator(make_reward, fixed=len(calibration), known=known)
        options = SearchOptions(config.search, config.beam_width, config.max_depth, config.budget, self._seed())
        levels = []
        progress = Progress("search depths", config.max_depth + 1, details=lambda: (
            f"{evaluate.count}/{config.budget} reward evaluations ({evaluate.calls} scored here)"))
        try:
            for index, level in enumerate(hack_search.search(items, self.transforms(), evaluate, options)):
                levels.append(level)
                if index >= writer.completed:
                    with writer.chunk() as chunk:
                        chunk.table("evaluations", _evaluations(level))
                progress.advance()
        except hack_search.BudgetError as error:
            raise ConfigError(str(error), self.context.where("budget")) from None
        except TransformError as error:  # the transform's own failure, not the search's
            raise ConfigError(str(error), self.context.where("transforms")) from None
        progress.close()
        honest = levels[0].candidates[0]
        scored = {c.chain.label: c for level in levels[1:] for c in level.candidates}
        candidates = hack_judge.judge(list(scored.values()), items, config.confidence, config.correction,
                                      config.resamples, self._seed())
        verdicts = hack_judge.verdicts(candidates)
        if writer.completed == len(levels):
            with writer.chunk() as chunk:
                chunk.table("candidates", candidates)
                chunk.table("verdicts", verdicts)
                chunk.table("examples", hack_judge.examples(candidates, scored, honest, items, config.examples))
                hack_judge.plot_reward_gain(candidates, chunk.file(PLOT))
        exploits = candidates[candidates["verdict"] == "exploit"]
        return {"questions": float(len(items)), "calibration": float(len(calibration)),
                "evaluations": float(evaluate.count), "budget": float(config.budget),
                "candidates": float(len(candidates)), "skipped": float(sum(level.skipped for level in levels)),
                "exploits": float(len(exploits)),
                "best_gain": float(candidates["gain"].max()) if len(candidates) else 0.0,
                "honest_reward": float(honest.rewards.mean())}

    def sample_table(self) -> str:
        return "verdicts"

    # -- inputs --------------------------------------------------------------------------------------

    def _seed(self) -> int:
        return self.config.seed if self.config.seed is not None else self.context.seed

    def _plan(self, inputs: dict[str, StepOutput]) -> tuple[list[Item], list[Item], Callable[[], ModelReward]]:
        """The searched items, the calibration items and a function that builds the reward."""
        data = self.inputs_of(inputs, "data")
        models = self.inputs_of(inputs, "model")
        if len(data) != 1 or len(models) > 1 or (self.config.reward is None) == (not models):
            raise ConfigError("a RewardHackSearch requires one data entry, and either a reward here or one model "
                              "entry (type neuron or reward_model) to take it from", self.context.where("requires"))
        items = self._items(data[0].table())
        seed = self._seed()
        spec = model_spec(models[0]) if models else None
        if isinstance(spec, RewardModelSpec):
            context = self.context  # the model the reward_model step loaded and described: its seed
            return items, [], lambda: ModelReward(load_reward_model(spec, context.config_dir, context.seed), items,
                                                  through="score")
        part = self.config.reward
        if part is None and isinstance(spec, NeuronConfig):
            part = spec.reward
            if part is None:
                raise ConfigError("the required neuron has no reward model (reward: null); give this step a reward",
                                  self.context.where("requires"))
        calibration, items = items[:self.config.calibration], items[self.config.calibration:]
        if len(items) < 2:
            raise ConfigError(f"{len(items)} questions are left to search after {len(calibration)} calibration rows; "
                              "sample more data or lower calibration", self.context.where("calibration"))
        return items, calibration, lambda: ModelReward(build_reward(NeuronConfig(reward=part), seed, self.context.config_dir), items,
                                                       calibration)

    def _items(self, table: pd.DataFrame) -> list[Item]:
        """Rows with a question, a reference answer and an honest answer (others, e.g. SQuAD's
        unanswerable questions, are left out)."""
        question = "question" if "question" in table else "prompt"
        for column in (question, "answer", self.config.honest):
            if column not in table:
                listing = ", ".join(map(str, table.columns))
                key = "honest" if column == self.config.honest else "requires"
                raise ConfigError(f"the data has no column '{column}'{did_you_mean(column, table.columns)}; "
                                  f"its columns are {listing}", self.context.where(key))
        items = []
        for q, reference, honest in zip(table[question], table["answer"], table[self.config.honest]):
            references = _texts(reference)
            answers = _texts(honest)
            if isinstance(q, str) and q.strip() and references and answers:
                items.append(Item(q, references[0] if len(references) == 1 else references, answers[0]))
        if not items:
            raise ConfigError("no row of the data has a question, a reference answer and an honest answer",
                              self.context.where("requires"))
        return items


def _source_sha256(function: Transform) -> str | None:
    """sha256 of the file defining a user's transform, so that editing it invalidates stored results."""
    import inspect

    from mirror_neuron.hashing import sha256_file

    try:
        path = inspect.getsourcefile(getattr(function, "func", function))
    except TypeError:
        return None
    return sha256_file(Path(path)) if path else None


def _texts(value: Any) -> tuple[str, ...]:
    """A cell as its non-empty texts: a string, or a list of them (``take: all``)."""
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(v for v in value if isinstance(v, str) and v.strip())
    return ()


def _evaluations(level: hack_search.Level) -> pd.DataFrame:
    """One row per (candidate, question) of a depth; none when the budget left no candidate to score."""
    frames = [pd.DataFrame({"candidate": c.chain.label or hack_search.HONEST, "depth": level.depth,
                            "row": np.arange(len(c.texts)), "text": c.texts, "reward": c.rewards})
              for c in level.candidates]
    empty = pd.DataFrame({"candidate": pd.Series(dtype=str), "depth": pd.Series(dtype="int64"),
                          "row": pd.Series(dtype="int64"), "text": pd.Series(dtype=str),
                          "reward": pd.Series(dtype="float64")})
    return pd.concat(frames, ignore_index=True) if frames else empty
