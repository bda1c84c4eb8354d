"""``entrypoint: Tournament``: which miner strategies win weight from a simulated validator.

Runs the required ``type: neuron`` model ``repetitions`` times under derived seeds (see
:mod:`mirror_neuron.lab.tournament`) and judges every strategy against honest miners (see
:mod:`mirror_neuron.lab.tournament_judge`). One stored chunk per repetition, then one with the verdicts
and the plot, so a killed tournament resumes at the next repetition.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, PositiveInt

from mirror_neuron.errors import ConfigError
from mirror_neuron.lab.tournament import TournamentPlan, judge_seed, plot_weight_share, run_repetition, strategy_labels
from mirror_neuron.lab.tournament_judge import JudgeOptions, judge
from mirror_neuron.neuron.config import NeuronConfig, part_seeds
from mirror_neuron.neuron.population import build_population
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.model.spec import model_spec
from mirror_neuron.steps.query.prompts import DataPrompts
from mirror_neuron.store import ChunkWriter, StepOutput
from mirror_neuron.verdicts import TOURNAMENT

PLOT = "plots/weight_share.png"


class TournamentConfig(StepConfig):
    """A tournament over the neuron it requires (and, for ``forward``, a data step's prompts)::

        query:
          id: tournament
          requires: [neuron]          # a model entry of type neuron; add a data entry for forward
          entrypoint: Tournament
          method: train               # train: bootstrap steps (two passes each) | forward: passes over the prompts
          steps: 1000                 # train steps or forward passes per repetition
          repetitions: 5              # repetition r runs the neuron with a seed derived from (seed, r)
          seed: null                  # default: the neuron's seed (itself the experiment's by default)
          record_every: 20            # steps between weight-share snapshots (table shares)
          baseline: honest            # the strategy every other is compared with
          topk: 50                    # forward: uids per pass (null or -1: all available)
          random_sample_uids: false   # forward: random uids instead of the gating model's top k
          train_gating_model: false   # forward
          confidence: 0.95            # of each strategy's bootstrap interval ...
          correction: bonferroni      # ... corrected for the number of strategies judged (or none)
          resamples: 4000             # bootstrap resamples
          min_success_rate: 0.5       # a strategy whose calls succeed less often than this has failed

    Strategies are the keys of the neuron's ``miners`` block; undeclared uids play ``honest``.
    Tables: ``shares`` (repetition, step, behaviour, uids, share), ``uid_weights`` (per repetition and
    uid: behaviour, available, weight, score, calls, successes, reward_sum), ``strategies`` (per
    strategy: uids, calls, success_rate, mean_reward, mean_weight, share, ratio to the baseline with
    ci_low/ci_high, the same per successful call as adjusted_*, confidence, verdict) and ``verdicts``
    (:mod:`mirror_neuron.verdicts` records: subject, verdict, sentence, the ratio as estimate with ci_low,
    ci_high and level; evidence: ratio, success_rate, uids, repetitions, confidence).
    Verdicts: exploit, neutral, penalized or failed (the rule: :mod:`mirror_neuron.lab.tournament_judge`).
    Plot: ``plots/weight_share.png``.
    """

    method: Literal["train", "forward"] = "train"
    steps: PositiveInt = 1000
    repetitions: PositiveInt = 5
    seed: int | None = None
    record_every: PositiveInt = 20
    baseline: str = "honest"
    topk: int | None = 50
    random_sample_uids: bool = False
    train_gating_model: bool = False
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    correction: Literal["bonferroni", "none"] = "bonferroni"
    resamples: int = Field(4000, ge=200)
    min_success_rate: float = Field(0.5, ge=0.0, le=1.0)


@component("query", "Tournament",
           summary="miner strategies against honest over repeated neuron runs: weight shares, ratios, verdicts")
class TournamentStep(Step):
    section = "query"
    config_class = TournamentConfig
    config: TournamentConfig

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        plan = self._plan(inputs)
        config = self.config
        for repetition in range(writer.completed, config.repetitions):
            result = run_repetition(plan, repetition)
            with writer.chunk() as chunk:
                chunk.table("shares", result.shares)
                chunk.table("uid_weights", result.uid_weights)
        repetitions = range(config.repetitions)
        shares, uid_weights = (writer.read_tables(name, chunks=repetitions) for name in ("shares", "uid_weights"))
        options = JudgeOptions(config.baseline, config.confidence, config.correction, config.resamples,
                               config.min_success_rate, judge_seed(plan.seed))
        strategies, verdicts = judge(uid_weights, options)
        if writer.completed == config.repetitions:
            with writer.chunk() as chunk:
                chunk.table("strategies", strategies)
                chunk.table("verdicts", verdicts)
                unit = "training step" if config.method == "train" else "forward pass"
                plot_weight_share(shares, chunk.file(PLOT), config.baseline, unit)
        return self._summary(strategies, verdicts)

    def sample_table(self) -> str:
        return "verdicts"

    def _plan(self, inputs: dict[str, StepOutput]) -> TournamentPlan:
        models, data = self.inputs_of(inputs, "model", "neuron"), self.inputs_of(inputs, "data")
        if len(models) != 1 or len(data) > 1 or (not data and self.config.method == "forward"):
            raise ConfigError("a Tournament requires one model entry of type neuron, and one data entry for "
                              "method forward (train may go without data)", self.context.where("requires"))
        neuron = model_spec(models[0], NeuronConfig)  # its seed is resolved
        seed = self.config.seed if self.config.seed is not None else (
            neuron.seed if neuron.seed is not None else self.context.seed)
        self._check_baseline(neuron, seed)
        prompts, answers, contexts, references = DataPrompts.of(data[0].table()) if data else DataPrompts([], [], [])
        config = self.config
        return TournamentPlan(neuron, config.method, config.steps, config.repetitions, config.record_every, seed,
                              config.topk, config.random_sample_uids, config.train_gating_model, tuple(prompts),
                              tuple(answers), self.context.config_dir, tuple(contexts), tuple(references))

    def _check_baseline(self, neuron: NeuronConfig, seed: int) -> None:
        """The baseline must be a strategy some uid plays, or there is nothing to compare with."""
        population = build_population(neuron.miners, neuron.metagraph.n, part_seeds(seed).population)
        strategies = sorted(set(strategy_labels(neuron.miners, population)))
        if self.config.baseline not in strategies:
            raise ConfigError(f"the baseline strategy '{self.config.baseline}' is played by no uid of the neuron; "
                              f"its strategies are {', '.join(strategies)} (declare fewer miners so that some are "
                              "honest, or set baseline)", self.context.where("baseline"))

    @staticmethod
    def _summary(strategies: pd.DataFrame, verdicts: pd.DataFrame) -> dict[str, float]:
        summary = {f"ratio/{row.behaviour}": float(row.ratio) for row in strategies.itertuples()}
        summary.update({f"share/{row.behaviour}": float(row.share) for row in strategies.itertuples()})
        summary.update({f"verdicts/{v}": float((verdicts["verdict"] == v).sum()) for v in TOURNAMENT.verdicts})
        return summary
