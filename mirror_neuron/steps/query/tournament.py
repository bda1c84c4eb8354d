"""``entrypoint: Tournament``: which miner strategies win weight from a simulated validator.

Runs the required ``type: neuron`` model ``repetitions`` times under derived seeds (see
:mod:`mirror_neuron.lab.tournament`) and judges every strategy against honest miners (see
:mod:`mirror_neuron.lab.tournament_judge`). One stored chunk per repetition (and per
repetition of the one-hotkey run, when a strategy's uids share backends), then one with the verdicts
and the plot, so a killed tournament resumes at the next repetition.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

import pandas as pd
from pydantic import Field, PositiveInt

from mirror_neuron import ray_runtime
from mirror_neuron.errors import ConfigError
from mirror_neuron.lab.tournament import (
    Repetition,
    TournamentPlan,
    check_judged,
    judge_seed,
    one_hotkey_plan,
    plot_weight_per_uid,
    plot_weight_share,
    run_repetition,
    tournament_progress,
)
from mirror_neuron.lab.tournament_judge import ZEROED, JudgeOptions, baseline_health, flagged_controls, judge
from mirror_neuron.limits import AtMost
from mirror_neuron.log import Progress, say
from mirror_neuron.neuron.config import NeuronConfig, TopK, part_seeds
from mirror_neuron.neuron.population import MinerError
from mirror_neuron.registry import component
from mirror_neuron.seeds import Seed
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.model.spec import model_spec
from mirror_neuron.steps.query.prompts import DataPrompts
from mirror_neuron.store import ChunkWriter, StepOutput
from mirror_neuron.verdicts import TOURNAMENT

PLOT = "plots/weight_share.png"
UID_PLOT = "plots/weight_per_uid.png"
ONE_HOTKEY = "one_hotkey_uid_weights"  # the uid table of the run on one hotkey per backend


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
          record_every: null          # steps between weight snapshots (default: steps / 25)
          baseline: honest            # the strategy every other is compared with
          controls: []                # strategies that must come out neutral (e.g. honest_twin below)
          topk: 50                    # forward: uids per pass (null or -1: all available)
          random_sample_uids: false   # forward: random uids instead of the gating model's top k
          train_gating_model: false   # forward
          confidence: 0.95            # of each strategy's bootstrap interval ...
          correction: bonferroni      # ... corrected for the number of strategies judged (or none)
          resamples: 4000             # bootstrap resamples
          min_success_rate: 0.5       # a strategy whose calls succeed less often than this has failed
          max_zeroed_share: 0.5       # a filter zeroing more of the baseline's completions: inconclusive

    Strategies are the keys of the neuron's ``miners`` block; undeclared uids play ``honest``. A strategy
    whose uids share fewer ``backends`` (a copycat) is judged against its backend on one hotkey: the
    tournament runs its repetitions a second time with that strategy on one uid per backend and its
    other uids honest (table ``one_hotkey_uid_weights``). A
    control is honest miners under another label (``miners: {honest_twin: {behaviour: honest, count: 8}}``)
    or with another wording; a control not judged neutral is flagged (summary ``controls/flagged``).
    Tables: ``shares`` (repetition, step, behaviour, uids, share), ``trajectories`` (repetition, step,
    uid, behaviour, weight), ``uid_weights`` (per repetition and uid: behaviour, available, weight,
    score, calls, successes, short_calls, reward_sum, reward_sq_sum, zeroed_<filter>), ``strategies``
    (per strategy: uids, calls, success_rate, mean_reward, mean_weight, share, ratio to the baseline
    with ci_low/ci_high, ratio_per_uid, uids_per_backend, ratio_per_backend and ratio_to_one_hotkey,
    the ratio per successful call as adjusted_*, confidence, the health figures
    median_calls, short_share, reward_std, zeroed_<filter>, converged, control, verdict) and
    ``verdicts`` (:mod:`mirror_neuron.verdicts` records: subject, verdict, sentence, the ratio as
    estimate with ci_low, ci_high and level; evidence: ratio, success_rate, uids, repetitions,
    confidence, converged, control). Verdicts: exploit, weight_leak, neutral, penalized, failed or
    inconclusive, flagged ``not converged`` when the baseline's uids got fewer than ``1 / (1 - alpha)``
    scored calls (the rule: :mod:`mirror_neuron.lab.tournament_judge`). The summary holds the
    baseline's health (``baseline/*``), ``converged`` and the controls. Plots: ``plots/weight_share.png``
    (share by strategy) and ``plots/weight_per_uid.png`` (mean weight per uid by strategy, and each
    uid of the first repetition).
    """

    method: Literal["train", "forward"] = "train"
    steps: Annotated[PositiveInt, AtMost("steps")] = 1000
    repetitions: Annotated[PositiveInt, AtMost("repetitions")] = 5
    seed: Seed | None = None
    record_every: PositiveInt | None = None
    baseline: str = "honest"
    controls: list[str] = []
    topk: TopK = 50
    random_sample_uids: bool = False
    train_gating_model: bool = False
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    correction: Literal["bonferroni", "none"] = "bonferroni"
    resamples: Annotated[int, Field(ge=200), AtMost("resamples")] = 4000
    min_success_rate: float = Field(0.5, ge=0.0, le=1.0)
    max_zeroed_share: float = Field(0.5, ge=0.0, le=1.0)


@component("query", "Tournament",
           summary="miner strategies against honest over repeated neuron runs: weight shares, ratios, verdicts")
class TournamentStep(Step):
    section = "query"
    config_class = TournamentConfig
    config: TournamentConfig

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        plan = self._plan(inputs)
        config = self.config
        runs = [plan, *filter(None, [one_hotkey_plan(plan)])]  # chunk r * repetitions + i: run r, repetition i
        total = config.repetitions * len(runs)
        remaining = range(writer.completed, total)
        progress = None  # a Ray task's progress lines would not reach this terminal
        if ray_runtime.parallel(len(remaining)):
            say(f"tournament: {len(remaining)} repetition(s) as Ray tasks")
        else:
            progress = tournament_progress(plan, min(writer.completed, total), len(runs))
        tasks = [(runs[index // config.repetitions], index % config.repetitions, progress) for index in remaining]
        for index, result in zip(remaining, ray_runtime.in_order(_repetition, tasks)):
            if isinstance(result, MinerFailed):  # a strategy whose code raised on every call: nothing to judge
                model = self.inputs_of(inputs, "model", "neuron")[0]
                raise ConfigError(result.message, self.context.where_entry(model.manifest["id"], "miners",
                                                                           result.miner))
            with writer.chunk() as chunk:
                if index < config.repetitions:
                    chunk.table("shares", result.shares)
                    chunk.table("uid_weights", result.uid_weights)
                    chunk.table("trajectories", result.trajectories)
                else:
                    chunk.table(ONE_HOTKEY, result.uid_weights)
        repetitions = range(config.repetitions)
        shares, uid_weights, trajectories = (writer.read_tables(name, chunks=repetitions)
                                             for name in ("shares", "uid_weights", "trajectories"))
        one_hotkey = writer.read_tables(ONE_HOTKEY, chunks=range(config.repetitions, total)) if len(runs) > 1 else None
        options = JudgeOptions(config.baseline, config.confidence, config.correction, config.resamples,
                               config.min_success_rate, judge_seed(plan.seed), plan.neuron.weights.alpha,
                               tuple(config.controls), config.max_zeroed_share)
        strategies, verdicts = judge(uid_weights, options, one_hotkey)
        if writer.completed == total:
            with writer.chunk() as chunk:
                chunk.table("strategies", strategies)
                chunk.table("verdicts", verdicts)
                unit = "training step" if config.method == "train" else "forward pass"
                plot_weight_share(shares, chunk.file(PLOT), config.baseline, unit)
                plot_weight_per_uid(trajectories, uid_weights, chunk.file(UID_PLOT), config.baseline, unit)
        return self._summary(strategies, verdicts, options, baseline_health(uid_weights, options).problem is None)

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
        check_judged(neuron.miners, neuron.metagraph.n, part_seeds(seed), None, self.config.baseline,
                     self.config.controls, self.context.where)
        prompts, answers, contexts, references = DataPrompts.of(data[0].table()) if data else DataPrompts([], [], [])
        config = self.config
        return TournamentPlan(neuron, config.method, config.steps, config.repetitions, config.record_every, seed,
                              config.topk, config.random_sample_uids, config.train_gating_model, tuple(prompts),
                              tuple(answers), self.context.config_dir, tuple(contexts), tuple(references))

    @staticmethod
    def _summary(strategies: pd.DataFrame, verdicts: pd.DataFrame, options: JudgeOptions,
                 healthy: bool) -> dict[str, float]:
        summary = {f"ratio/{row.behaviour}": float(row.ratio) for row in strategies.itertuples()}
        summary.update({f"share/{row.behaviour}": float(row.share) for row in strategies.itertuples()})
        summary.update({f"verdicts/{v}": float((verdicts["verdict"] == v).sum()) for v in TOURNAMENT.verdicts})
        base = strategies[strategies["behaviour"] == options.baseline].iloc[0]
        health = ["success_rate", "short_share", "reward_std", "median_calls",
                  *(c for c in strategies.columns if c.startswith(ZEROED))]
        summary.update({f"baseline/{name}": float(base[name]) for name in health})
        summary["baseline/healthy"] = float(healthy)
        summary["converged"] = float(bool(base["converged"]))
        summary["controls/declared"] = float(len(options.controls))
        summary["controls/flagged"] = float(flagged_controls(strategies))
        return summary


class MinerFailed(NamedTuple):
    """A repetition stopped by a strategy whose code raised on every call (a value: it crosses processes)."""

    miner: str
    message: str


def _repetition(task: tuple[TournamentPlan, int, Progress | None]) -> Repetition | MinerFailed:
    """One repetition of a plan, in this process (advancing ``progress``) or a Ray worker."""
    plan, repetition, progress = task
    try:
        return run_repetition(plan, repetition, progress)
    except MinerError as error:
        return MinerFailed(error.miner, error.message)
