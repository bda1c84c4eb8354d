"""``entrypoint: Network``: run a ``type: network`` model for E epochs and store what the chain did.

Requires the network model and a data entry (the honest validators' prompts). One stored chunk per
``chunk_epochs`` epochs of a repetition, with the chain's and every validator's state, so a killed run
resumes at the next block of epochs; then a chunk with the judged figures and plots.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from mirror_neuron import ray_runtime
from mirror_neuron.errors import ConfigError
from mirror_neuron.lab.tournament import backend_uids, check_judged, judge_seed, plot_weight_per_uid
from mirror_neuron.lab.tournament_judge import JudgeOptions, baseline_health, flagged_controls, judge
from mirror_neuron.limits import AtMost
from mirror_neuron.log import say
from mirror_neuron.network.config import NetworkConfig
from mirror_neuron.network.metrics import (
    bootstrap_mean,
    emission_paths,
    g_ratios,
    judge_groups,
    miner_uids,
    miner_verdicts,
    performance,
    plot_emission_shares,
    plot_g_ratios,
    validator_baseline_problem,
    validator_dividends,
)
from mirror_neuron.network.simulation import EpochStep, Network
from mirror_neuron.neuron.config import NeuronConfig, part_seeds
from mirror_neuron.registry import component
from mirror_neuron.steps.base import Step, StepConfig
from mirror_neuron.steps.query.prompts import DataPrompts
from mirror_neuron.store import ChunkWriter, StepOutput
from mirror_neuron.verdicts import NETWORK, to_table

STATE = "state"
SHARE_PLOT = "plots/emission_share.png"
UID_PLOT = "plots/emission_per_uid.png"
G_PLOT = "plots/g_ratio.png"
MEASURE = "emission share"  # what a miner strategy is judged by
PER_UID = ("consensus", "rank", "trust", "incentive", "validator_trust", "dividends", "emission", "miner_emission",
           "validator_emission", "active_stake")


class NetworkQueryConfig(StepConfig):
    """A network run over the model it requires (``type: network``) and a data entry's prompts::

        query:
          id: run
          requires: [net, prompts]
          entrypoint: Network
          epochs: 100            # epochs per repetition
          repetitions: 1         # repetition r reseeds the whole network from (seed, r)
          chunk_epochs: 10       # epochs per stored chunk (a killed run resumes at the next one)
          warmup: 10             # first epochs left out of the G ratio and the shares
          baseline: honest       # the miner strategy counted as honest, and the validator strategy G is relative to
          controls: []           # miner strategies that must come out neutral (honest miners under another label)
          record_matrices: false # also store each epoch's weight and bond matrices (non-zero entries)
          confidence: 0.95       # of the bootstrap intervals (G over repetitions; miners' ratios as in a Tournament)
          correction: bonferroni # miners' intervals corrected for the number of strategies judged (or none)
          resamples: 2000
          min_success_rate: 0.5  # a miner strategy whose calls succeed less often than this has failed
          max_zeroed_share: 0.5  # a filter zeroing more of the baseline miners' completions: inconclusive

    Tables: ``epochs`` (repetition, epoch, block, uid, role, group, strategy, stake, consensus, rank,
    trust, incentive, validator_trust, dividends, emission, miner_emission, validator_emission,
    active_stake; emission in rao), ``shares`` (repetition, epoch, side, group, uids, share of the
    epoch's emission), ``set_weights`` (every set, commit and reveal: accepted, the chain's error and
    reason), ``matrices`` (on request: repetition, epoch, validator, uid, weight, bond), ``miners``
    (per repetition and uid: label, calls scored, token F1 against the reference), ``miner_calls`` (per
    repetition and miner uid: behaviour, available, and the honest validators' tally of its calls,
    successes, short answers, rewards and zeroed completions), ``uid_emission`` (the same with its share
    of the emission after the warm-up as ``weight``), ``strategies`` (the tournament judge's table over
    it), ``validators``
    (dividends and dividends per stake after the warm-up), ``groups`` (per strategy group: emission
    share, G ratio with ci_low/ci_high) and ``performance`` (per epoch: honest miners' share, consensus
    spread, emission-weighted F1) and ``verdicts``: per miner strategy besides the baseline, the
    Tournament's verdicts (:mod:`mirror_neuron.lab.tournament_judge`) on its emission share per uid against
    honest miners', with the same baseline checks and controls; per validator group besides the baseline,
    ``exploit`` when its G ratio's interval lies above 1, ``penalized`` below, ``neutral`` around it,
    ``inconclusive`` with one repetition or when the baseline validators are unhealthy (most of their
    set_weights rejected, no dividends). Plots: ``plots/emission_share.png``,
    ``plots/emission_per_uid.png``, ``plots/g_ratio.png``.
    """

    epochs: Annotated[PositiveInt, AtMost("steps")] = 100
    repetitions: Annotated[PositiveInt, AtMost("repetitions")] = 1
    chunk_epochs: PositiveInt = 10
    warmup: NonNegativeInt = 10
    baseline: str = "honest"
    controls: list[str] = []
    record_matrices: bool = False
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    correction: Literal["bonferroni", "none"] = "bonferroni"
    resamples: Annotated[int, Field(ge=200), AtMost("resamples")] = 2000
    min_success_rate: float = Field(0.5, ge=0.0, le=1.0)
    max_zeroed_share: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _warmup_leaves_epochs(self) -> NetworkQueryConfig:
        if self.warmup >= self.epochs:
            raise ValueError(f"warmup ({self.warmup}) must leave some of the {self.epochs} epochs")
        return self


@component("query", "Network",
           summary="run a network for E epochs: consensus, incentive, dividends, emission per uid; G ratio, shares")
class NetworkQueryStep(Step):
    section = "query"
    config_class = NetworkQueryConfig
    config: NetworkQueryConfig

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        network_config, prompts = self._inputs(inputs)
        config = self.config
        per_repetition = math.ceil(config.epochs / config.chunk_epochs)
        total = config.repetitions * per_repetition
        started, block = divmod(writer.completed, per_repetition)
        tasks = [RepetitionTask(network_config, prompts, config, repetition, self._seed(network_config, repetition),
                                self.context.config_dir) for repetition in range(started, config.repetitions)]
        if block and tasks:  # a repetition begun before: resumed here from its last stored state
            tasks[0] = dataclasses.replace(tasks[0], first_block=block,
                                           resume_from=writer.chunk_dir(writer.completed - 1) / STATE)
        if ray_runtime.parallel(len(tasks)):  # a point of a sweep on Ray with CPUs to spare: repetitions as Ray tasks
            say(f"network: {len(tasks)} repetition(s) as Ray tasks")
            for blocks in ray_runtime.in_order(repetition_blocks, tasks):
                for stored in blocks:
                    stored.write(writer)
        else:
            for task in tasks:
                for stored in run_blocks(task):
                    stored.write(writer)
        return self._judge(network_config, writer, total)

    def sample_table(self) -> str:
        return "groups"

    def _inputs(self, inputs: dict[str, StepOutput]) -> tuple[NetworkConfig, DataPrompts]:
        models, data = self.inputs_of(inputs, "model", "network"), self.inputs_of(inputs, "data")
        if len(models) != 1 or len(data) != 1:
            raise ConfigError("a Network query requires one model entry of type network and one data entry (the "
                              "honest validators' prompts)", self.context.where("requires"))
        prompts = DataPrompts.of(data[0].table())
        if not prompts.questions:
            raise ConfigError("the data entry holds no prompts (no question or prompt column)",
                              self.context.where("requires"))
        network = NetworkConfig.model_validate(models[0].manifest["config"])
        if self.config.baseline not in {g.strategy for g in network.validators.values()} | {"honest"}:
            raise ConfigError(f"baseline '{self.config.baseline}' is no validator strategy of the network",
                              self.context.where("baseline"))
        self._check_miner_strategies(network)
        return network, prompts

    def _check_miner_strategies(self, network: NetworkConfig) -> None:
        """The baseline and every control must be miner strategies some uid plays."""
        seeds = part_seeds(self._base_seed(network))
        miners_seed = network.miners_seed if network.miners_seed is not None else seeds.miners
        check_judged(network.miners, network.metagraph.n, seeds, miners_seed, self.config.baseline,
                     self.config.controls, self.context.where, "miner of the network")

    def _judge_options(self, network: NetworkConfig) -> JudgeOptions:
        """How miner strategies are judged: the Tournament's rules, convergence by the honest validators'
        slowest moving average spread over all of them."""
        config = self.config
        honest = [g for g in network.validators.values() if g.strategy == "honest"]
        alphas = [NeuronConfig.model_validate({k: v for k, v in dict(g.params.get("neuron") or {}).items()
                                               if k != "seed"}).weights.alpha for g in honest]
        seed = self._base_seed(network)
        return JudgeOptions(config.baseline, config.confidence, config.correction, config.resamples,
                            config.min_success_rate, judge_seed(seed), max(alphas) if alphas else None,
                            tuple(config.controls), config.max_zeroed_share,
                            averages=max(1, sum(g.count for g in honest)), measure=MEASURE)

    def _base_seed(self, network: NetworkConfig) -> int:
        """The network's seed, else the experiment's."""
        return network.seed if network.seed is not None else self.context.seed

    def _seed(self, network: NetworkConfig, repetition: int) -> int:
        seed = self._base_seed(network)
        return seed if repetition == 0 else int(np.random.SeedSequence([seed, repetition]).generate_state(1)[0])

    # -- the judged figures --------------------------------------------------------------------------

    def _judge(self, network: NetworkConfig, writer: ChunkWriter, total: int) -> dict[str, float]:
        config = self.config
        chunks = range(total)
        epochs = writer.read_tables("epochs", chunks=chunks)
        shares = writer.read_tables("shares", chunks=chunks)
        calls = writer.read_tables("set_weights", chunks=chunks)
        miners = writer.read_tables("miners")
        f1 = miners if len(miners) else None
        options = self._judge_options(network)
        uid_emission = miner_uids(epochs, writer.read_tables("miner_calls"), config.warmup)
        strategies, judged = judge(uid_emission, options)
        validators = validator_dividends(epochs, config.warmup)
        ratios = g_ratios(validators, config.baseline)
        perf = performance(epochs, f1, config.baseline)
        kept = shares[shares["epoch"] >= config.warmup]
        rows = []
        for (side, group), part in kept.groupby(["side", "group"], sort=False):
            row = {"side": side, "group": group, "uids": int(part["uids"].iloc[0]),
                   "emission_share": float(part.groupby("repetition")["share"].mean().mean()),
                   "g_ratio": math.nan, "ci_low": math.nan, "ci_high": math.nan}
            if side == "validators":
                values = ratios.loc[ratios["group"] == group, "g_ratio"].to_numpy()
                row["strategy"] = str(ratios.loc[ratios["group"] == group, "strategy"].iloc[0])
                row["g_ratio"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
                row["ci_low"], row["ci_high"] = bootstrap_mean(values, config.resamples, config.confidence, 0)
            else:
                row["strategy"] = group
            rows.append(row)
        groups = pd.DataFrame(rows)
        problem = validator_baseline_problem(validators, calls, config.baseline)
        verdicts = miner_verdicts(strategies, judged) + judge_groups(groups, config.baseline, config.confidence,
                                                                     config.repetitions, problem)
        if writer.completed == total:
            with writer.chunk() as chunk:
                chunk.table("uid_emission", uid_emission)
                chunk.table("strategies", strategies)
                chunk.table("validators", validators)
                chunk.table("groups", groups)
                chunk.table("performance", perf)
                if verdicts:
                    chunk.table("verdicts", to_table(verdicts, NETWORK))
                plot_emission_shares(shares, chunk.file(SHARE_PLOT))
                plot_weight_per_uid(emission_paths(epochs), uid_emission, chunk.file(UID_PLOT), config.baseline,
                                    "epoch", MEASURE)
                plot_g_ratios(groups, chunk.file(G_PLOT))
        late = perf[perf["epoch"] >= config.warmup]
        summary = {"honest_miner_share": float(late["honest_miner_share"].mean()),
                   "consensus_spread": float(late["consensus_spread"].mean()),
                   "rejected_set_weights": float((~calls["accepted"].astype(bool)).sum()) if len(calls) else 0.0}
        if "emission_weighted_f1" in late:
            summary["emission_weighted_f1"] = float(late["emission_weighted_f1"].mean())
        summary.update({f"ratio/miners/{row.behaviour}": float(row.ratio) for row in strategies.itertuples()})
        summary.update({f"verdicts/{v}": float(sum(r.verdict == v for r in verdicts)) for v in NETWORK.verdicts})
        summary["baseline/healthy"] = float(baseline_health(uid_emission, options).problem is None and problem is None)
        summary["converged"] = float(bool(strategies["converged"].iloc[0]))
        summary["controls/flagged"] = float(flagged_controls(strategies))
        for row in groups.itertuples():
            summary[f"share/{row.side}/{row.group}"] = float(row.emission_share)
            if row.side == "validators":
                summary[f"g/{row.group}"] = float(row.g_ratio)
                summary[f"g_low/{row.group}"] = float(row.ci_low)
                summary[f"g_high/{row.group}"] = float(row.ci_high)
        return summary


@dataclass(frozen=True)
class RepetitionTask:
    """One repetition of a network run, from block ``first_block`` (restoring ``resume_from``): all a
    process (this one, or a Ray worker) needs to compute its blocks of epochs."""

    network: NetworkConfig
    prompts: DataPrompts
    query: NetworkQueryConfig
    repetition: int
    seed: int
    base_dir: Path | None
    first_block: int = 0
    resume_from: Path | None = None


@dataclass
class StoredBlock:
    """One block of epochs as a chunk stores it: its tables, and the state the next block starts from,
    either the live ``network`` (saved straight into the chunk) or its saved files (``state``, from a
    Ray worker)."""

    tables: dict[str, pd.DataFrame]
    network: Network | None = None
    state: dict[str, bytes] | None = None

    def write(self, writer: ChunkWriter) -> None:
        with writer.chunk() as chunk:
            for name, table in self.tables.items():
                chunk.table(name, table)
            if self.network is not None:
                self.network.save(chunk.directory / STATE)
            for name, data in (self.state or {}).items():
                path = chunk.directory / STATE / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

    def frozen(self) -> StoredBlock:
        """The block with its network's state as files, to send from one process to another."""
        if self.network is None:
            return self
        with tempfile.TemporaryDirectory() as folder:
            self.network.save(Path(folder))
            state = {str(f.relative_to(folder)): f.read_bytes() for f in sorted(Path(folder).rglob("*")) if f.is_file()}
        return StoredBlock(self.tables, state=state)


def run_blocks(task: RepetitionTask) -> Iterator[StoredBlock]:
    """The blocks of one repetition, each as soon as its epochs have run (write or freeze each before
    asking for the next: its network moves on)."""
    query, repetition = task.query, task.repetition
    per_repetition = math.ceil(query.epochs / query.chunk_epochs)
    prompts = task.prompts
    network = Network.build(task.network, prompts.questions, prompts.references, prompts.contexts, seed=task.seed,
                            base_dir=task.base_dir)
    if task.resume_from is not None:
        network.load(task.resume_from)
    for block in range(task.first_block, per_repetition):
        steps = [network.step() for _ in range(block * query.chunk_epochs,
                                               min((block + 1) * query.chunk_epochs, query.epochs))]
        tables = {"epochs": _epochs(network, steps, repetition), "shares": _shares(network, steps, repetition),
                  "set_weights": _calls(network, steps, repetition)}
        if query.record_matrices:
            tables["matrices"] = _matrices(network, steps, repetition)
        if block == per_repetition - 1:
            tables["miner_calls"] = _miner_calls(network, repetition)
            if network.population.quality is not None:
                tables["miners"] = _quality(network, repetition)
        yield StoredBlock(tables, network)


def repetition_blocks(task: RepetitionTask) -> list[StoredBlock]:
    """Every block of one repetition, its states as files (a Ray task's result)."""
    return [block.frozen() for block in run_blocks(task)]


def _frame_base(network: Network, repetition: int) -> dict[str, Any]:
    population = network.population
    role = np.where(np.arange(population.n) < len(network.rows), "validator", "miner")
    strategy = np.array(population.labels, dtype=object)
    for group in network.groups:
        strategy[group.uids] = group.strategy_name
    return {"repetition": repetition, "uid": np.arange(population.n), "role": role,
            "group": population.labels.astype(str), "strategy": strategy.astype(str),
            "stake": network.stake / network.stake.sum()}


def _epochs(network: Network, steps: list[EpochStep], repetition: int) -> pd.DataFrame:
    base = _frame_base(network, repetition)
    frames = [pd.DataFrame({**base, "epoch": step.epoch, "block": step.block,
                            **{name: getattr(step.result, name) for name in PER_UID}}) for step in steps]
    table = pd.concat(frames, ignore_index=True)
    return table[["repetition", "epoch", "block", *[c for c in table.columns if c not in
                                                    ("repetition", "epoch", "block")]]]


def _shares(network: Network, steps: list[EpochStep], repetition: int) -> pd.DataFrame:
    labels = network.population.labels.astype(str)
    validators = np.arange(network.population.n) < len(network.rows)
    rows = []
    for step in steps:
        total = step.result.emission.sum() + float(step.result.owner_emission)
        for side, mask, paid in (("miners", ~validators, step.result.miner_emission),
                                 ("validators", validators, step.result.validator_emission)):
            for group in dict.fromkeys(labels[mask]):
                chosen = mask & (labels == group)
                rows.append({"repetition": repetition, "epoch": step.epoch, "side": side, "group": group,
                             "uids": int(chosen.sum()), "share": float(paid[chosen].sum() / total) if total else 0.0})
    return pd.DataFrame(rows)


def _calls(network: Network, steps: list[EpochStep], repetition: int) -> pd.DataFrame:
    labels = network.population.labels
    rows = [{"repetition": repetition, "epoch": step.epoch, "block": call.outcome.block, "uid": call.outcome.uid,
             "group": str(labels[call.outcome.uid]), "action": call.action, "accepted": call.outcome.accepted,
             "error": call.outcome.error or "", "reason": call.outcome.reason or ""}
            for step in steps for call in step.calls]
    columns = ["repetition", "epoch", "block", "uid", "group", "action", "accepted", "error", "reason"]
    return pd.DataFrame(rows, columns=columns)


def _matrices(network: Network, steps: list[EpochStep], repetition: int) -> pd.DataFrame:
    frames = []
    for step in steps:
        weights, bonds = step.result.weights, step.result.bonds
        row, uid = np.nonzero((weights > 0) | (bonds > 0))
        frames.append(pd.DataFrame({"repetition": repetition, "epoch": step.epoch,
                                    "validator": network.rows[row], "uid": uid,
                                    "weight": weights[row, uid], "bond": bonds[row, uid]}))
    return pd.concat(frames, ignore_index=True)


def _miner_calls(network: Network, repetition: int) -> pd.DataFrame:
    population = network.population
    miners = population.miner_uids
    labels = population.labels[miners].astype(str)
    return pd.DataFrame({"repetition": repetition, "uid": miners, "behaviour": labels,
                         "backend": backend_uids(list(labels), [population.behaviours[uid] for uid in miners], miners),
                         "available": population.metagraph.is_serving[miners].astype(bool),
                         **{name: values[miners] for name, values in population.calls.columns().items()}})


def _quality(network: Network, repetition: int) -> pd.DataFrame:
    quality = network.population.quality
    miners = network.population.miner_uids
    return pd.DataFrame({"repetition": repetition, "uid": miners,
                         "label": network.population.labels[miners].astype(str),
                         "calls": quality.calls[miners], "f1": quality.f1[miners]})
