"""Tournaments: one neuron configuration, many miner strategies, repeated under different seeds.

A repetition builds a fresh :class:`~mirror_neuron.neuron.neuron.Neuron` with a seed derived from the
tournament's seed and the repetition's number (so the uids' roles, latencies, gating and rewards
all change), runs it for ``steps`` steps (``train`` bootstrap steps, or ``forward`` passes over the
data's prompts), records each strategy's share of the weights every ``record_every`` steps, and
ends with one row per uid: its final weight, and how many of its calls succeeded. The
:mod:`~mirror_neuron.lab.tournament_judge` module turns the per-uid rows of every repetition into
verdicts.

A strategy is a key of the neuron's ``miners`` block (``echo``, ``length_padder``,
``my_pkg.miners:cached``); the uids nobody declared play ``honest``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from mirror_neuron.figures import figure, pyplot
from mirror_neuron.lab.tournament_judge import JudgeOptions, judge
from mirror_neuron.neuron import loops
from mirror_neuron.neuron.config import NeuronConfig
from mirror_neuron.neuron.miners.base import Behaviour, Reference
from mirror_neuron.neuron.neuron import Event, Neuron
from mirror_neuron.neuron.population import make_behaviour


@dataclass(frozen=True)
class TournamentPlan:
    """What a tournament runs. ``prompts``/``answers`` come from a data step (required for ``forward``)."""

    neuron: NeuronConfig
    method: Literal["train", "forward"] = "train"
    steps: int = 1000
    repetitions: int = 5
    record_every: int = 20
    seed: int = 0
    topk: int | None = 50  # forward: uids per pass (None or -1: every available uid)
    random_sample_uids: bool = False  # forward
    train_gating_model: bool = False  # forward
    prompts: tuple[str, ...] = ()
    answers: tuple[str | None, ...] = ()
    base_dir: Path | None = None  # where relative model paths of the neuron's reward are read from
    contexts: tuple[str, ...] = ()  # the data's passages: the versions' loops draw contexts from them
    references: tuple[Reference, ...] = ()  # per prompt, what the miners may know (else ``answers``)

    def __post_init__(self) -> None:
        if self.method == "forward" and not self.prompts:
            raise ValueError("a forward tournament needs prompts (a data step)")


@dataclass
class Repetition:
    """One repetition's record: ``shares`` over time and the final ``uid_weights``."""

    shares: pd.DataFrame
    uid_weights: pd.DataFrame


@dataclass
class TournamentResult:
    shares: pd.DataFrame
    uid_weights: pd.DataFrame
    strategies: pd.DataFrame
    verdicts: pd.DataFrame
    repetitions: list[Repetition] = field(default_factory=list)


def repetition_seed(seed: int, repetition: int) -> int:
    """The neuron seed of repetition ``repetition``: independent streams from one tournament seed."""
    return int(np.random.SeedSequence([seed & (2**64 - 1), repetition]).generate_state(1)[0])


def judge_seed(seed: int) -> int:
    """The bootstrap's seed, derived from the tournament's (so the same seed gives the same verdicts)."""
    return int(np.random.SeedSequence([seed & (2**64 - 1), 2**32]).generate_state(1)[0])


def strategy_labels(miners: dict, behaviours: list[Behaviour]) -> list[str]:
    """Each uid's strategy: the ``miners`` key whose behaviour it plays, else the behaviour's own name.

    Behaviours are compared by value (class and parameters), once per distinct object.
    """
    declared: list[tuple[str, Behaviour]] = []
    for name, value in miners.items():
        params = {k: v for k, v in value.items() if k not in ("count", "share")} if isinstance(value, dict) else {}
        declared.append((name, make_behaviour(name, params)))
    known: dict[int, str] = {}
    labels = []
    for behaviour in behaviours:
        if id(behaviour) not in known:
            known[id(behaviour)] = next((name for name, built in declared if built == behaviour),
                                        getattr(behaviour, "name", type(behaviour).__name__))
        labels.append(known[id(behaviour)])
    return labels


class _Calls:
    """Per-uid counts of calls, successful calls and summed rewards, folded in from events."""

    def __init__(self, n: int) -> None:
        self.calls = np.zeros(n, dtype=np.int64)
        self.successes = np.zeros(n, dtype=np.int64)
        self.reward_sum = np.zeros(n)

    def add(self, events: list[Event]) -> None:
        n = len(self.calls)
        events = [event for event in events if event.weighted]  # core-2023's question calls earn nothing
        queried = [uid for event in events for uid in event.uids]
        successful = [uid for event in events for uid in event.successful_uids]
        rewards = [reward for event in events for reward in event.rewards]
        self.calls += np.bincount(np.asarray(queried, dtype=np.int64), minlength=n)
        self.successes += np.bincount(np.asarray(successful, dtype=np.int64), minlength=n)
        self.reward_sum += np.bincount(np.asarray(successful, dtype=np.int64), weights=rewards, minlength=n)


def run_repetition(plan: TournamentPlan, repetition: int) -> Repetition:
    """Run one repetition with its own seed; the neuron's history is folded in and dropped as it goes."""
    config = plan.neuron.model_copy(update={"seed": repetition_seed(plan.seed, repetition)})
    neuron = Neuron(config, prompts=list(plan.prompts), base_dir=plan.base_dir, contexts=list(plan.contexts))
    if plan.references or plan.answers:
        neuron.dendrite_pool.learn(plan.prompts, plan.references or [a if isinstance(a, str) else None
                                                                     for a in plan.answers])
    labels = strategy_labels(config.miners, neuron.dendrite_pool.behaviours)
    names = sorted(set(labels))
    codes = np.array([names.index(label) for label in labels])
    counts = np.bincount(codes, minlength=len(names))
    calls = _Calls(neuron.metagraph.n)
    snapshots: list[pd.DataFrame] = []
    done = 0
    while done < plan.steps:
        block = min(plan.record_every, plan.steps - done)
        _advance(neuron, plan, done, block)
        calls.add(neuron.history)
        neuron.history.clear()  # folded in: keep memory flat
        done += block
        _, weights = neuron.compute_weights()
        snapshots.append(pd.DataFrame({"repetition": repetition, "step": done, "behaviour": names,
                                       "uids": counts, "share": np.bincount(codes, weights, len(names))}))
    _, weights = neuron.compute_weights()
    uid_weights = pd.DataFrame({
        "repetition": repetition, "uid": neuron.metagraph.uids, "behaviour": labels,
        "available": np.isin(neuron.metagraph.uids, neuron.available_uids()),
        "weight": weights, "score": neuron.moving_averaged_scores.scores, "calls": calls.calls,
        "successes": calls.successes, "reward_sum": calls.reward_sum})
    shares = pd.concat(snapshots, ignore_index=True) if snapshots else pd.DataFrame(
        columns=["repetition", "step", "behaviour", "uids", "share"])
    return Repetition(shares, uid_weights)


def _advance(neuron: Neuron, plan: TournamentPlan, done: int, steps: int) -> None:
    if plan.method == "train":
        neuron.train(steps)
        return
    for unit in range(done, done + steps):
        question = plan.prompts[unit % len(plan.prompts)]
        loops.prompt_pass(neuron, question, topk=plan.topk, random_sample_uids=plan.random_sample_uids,
                          train_gating_model=plan.train_gating_model)


def run_tournament(plan: TournamentPlan, options: JudgeOptions | None = None) -> TournamentResult:
    """Every repetition in turn, then the verdicts (``options`` default: baseline ``honest``, 95%)."""
    options = options or JudgeOptions(seed=judge_seed(plan.seed))
    repetitions = [run_repetition(plan, r) for r in range(plan.repetitions)]
    shares = pd.concat([r.shares for r in repetitions], ignore_index=True)
    uid_weights = pd.concat([r.uid_weights for r in repetitions], ignore_index=True)
    strategies, verdicts = judge(uid_weights, options)
    return TournamentResult(shares, uid_weights, strategies, verdicts, repetitions)


def plot_weight_share(shares: pd.DataFrame, path: Path, baseline: str = "honest", unit: str = "step") -> Path:
    """Weight share by strategy over steps: the mean over repetitions, with a min-max band."""
    summary = shares.groupby(["behaviour", "step"])["share"].agg(["mean", "min", "max"]).reset_index()
    final = summary[summary["step"] == summary["step"].max()].set_index("behaviour")["mean"]
    order = [baseline] + [b for b in final.sort_values(ascending=False).index if b != baseline]
    colors = pyplot().get_cmap("tab20" if len(order) > 10 else "tab10")
    with figure(path) as axes:
        for index, behaviour in enumerate(b for b in order if b in final.index):
            rows = summary[summary["behaviour"] == behaviour]
            color = "black" if behaviour == baseline else colors(index % colors.N)
            axes.plot(rows["step"], rows["mean"], color=color, linewidth=1.6 if behaviour == baseline else 1.2,
                      label=behaviour)
            axes.fill_between(rows["step"], rows["min"], rows["max"], color=color, alpha=0.15, linewidth=0)
        repetitions = shares["repetition"].nunique()
        axes.set_xlabel(unit)
        axes.set_ylabel("share of total weight")
        axes.set_title(f"Weight share by strategy (mean of {repetitions} repetitions, min-max band)", fontsize=10)
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return path
