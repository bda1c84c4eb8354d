"""Tournaments: one neuron configuration, many miner strategies, repeated under different seeds.

A repetition builds a fresh :class:`~mirror_neuron.neuron.neuron.Neuron` with a seed derived from the
tournament's seed and the repetition's number (so the uids' roles, latencies, gating and rewards
all change), runs it for ``steps`` steps (``train`` bootstrap steps, or ``forward`` passes over the
data's prompts), records each strategy's share of the weights every ``record_every`` steps
(default: about 25 snapshots) and each uid's weight with them (at most :data:`MAX_UID_SNAPSHOTS`
times), and ends with one row per uid: its final
weight, its calls and how many succeeded, how many were short answers (a success return code but
10 characters or fewer), the sum and sum of squares of its rewards, and per filter that gates the
reward how many of its scored completions the filter zeroed. The
:mod:`~mirror_neuron.lab.tournament_judge` module turns the per-uid rows of every repetition into
verdicts.

A strategy whose uids share fewer machines than uids (``backends``: a copycat's 8 hotkeys on one
backend) is also run on one hotkey per machine (:func:`one_hotkey_plan`): the same population and
seeds, its other uids answering as honest miners. Its verdict compares what the machine earns behind
its many hotkeys with what the same machine earns on one, so the quality of its answers cancels and
what remains is what the duplication earns.

A strategy is a key of the neuron's ``miners`` block (``echo``, ``length_padder``,
``my_pkg.miners:cached``, or an alias such as ``honest_twin: {behaviour: honest, count: 8}``); the
uids nobody declared play ``honest``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from mirror_neuron.errors import ConfigError
from mirror_neuron.figures import figure, pyplot
from mirror_neuron.lab.tournament_judge import ZEROED, JudgeOptions, judge
from mirror_neuron.log import Progress
from mirror_neuron.neuron import loops
from mirror_neuron.neuron.config import NeuronConfig, PartSeeds, part_seeds
from mirror_neuron.neuron.dendrite import SUCCESS
from mirror_neuron.neuron.miners.base import Behaviour, Reference
from mirror_neuron.neuron.neuron import MIN_COMPLETION_CHARS, Event, Neuron
from mirror_neuron.neuron.population import DEFAULT_BEHAVIOUR, build_population, make_behaviour, with_seed
from mirror_neuron.neuron.reward.memo import MEMO

SPARE = ".spare"  # suffix of the label its spare hotkeys play honest under, in the one-hotkey run
SNAPSHOTS = 25  # weight snapshots per repetition when record_every is not set
MAX_UID_SNAPSHOTS = 100  # per-uid weight snapshots per repetition at most (every k-th share snapshot)


@dataclass(frozen=True)
class TournamentPlan:
    """What a tournament runs. ``prompts``/``answers`` come from a data step (required for ``forward``)."""

    neuron: NeuronConfig
    method: Literal["train", "forward"] = "train"
    steps: int = 1000
    repetitions: int = 5
    record_every: int | None = None  # default: steps / SNAPSHOTS (at least 1)
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

    @property
    def snapshot_every(self) -> int:
        """Steps between weight snapshots: ``record_every``, else about ``steps / SNAPSHOTS``."""
        return self.record_every or max(1, round(self.steps / SNAPSHOTS))


@dataclass
class Repetition:
    """One repetition's record: ``shares`` and each uid's weight (``trajectories``) over time, and the
    final ``uid_weights``."""

    shares: pd.DataFrame
    uid_weights: pd.DataFrame
    trajectories: pd.DataFrame


@dataclass
class TournamentResult:
    shares: pd.DataFrame
    uid_weights: pd.DataFrame
    strategies: pd.DataFrame
    verdicts: pd.DataFrame
    repetitions: list[Repetition] = field(default_factory=list)
    trajectories: pd.DataFrame = field(default_factory=pd.DataFrame)
    one_hotkey_uid_weights: pd.DataFrame | None = None  # the one-hotkey run's uid table (see one_hotkey_plan)


def repetition_seed(seed: int, repetition: int) -> int:
    """The neuron seed of repetition ``repetition``: independent streams from one tournament seed."""
    return int(np.random.SeedSequence([seed & (2**64 - 1), repetition]).generate_state(1)[0])


def judge_seed(seed: int) -> int:
    """The bootstrap's seed, derived from the tournament's (so the same seed gives the same verdicts)."""
    return int(np.random.SeedSequence([seed & (2**64 - 1), 2**32]).generate_state(1)[0])


def strategy_labels(miners: dict, behaviours: list[Behaviour], miners_seed: int | None = None) -> list[str]:
    """Each uid's strategy: the ``miners`` key whose behaviour it plays, else the behaviour's own name.

    Behaviours are compared by value (class and parameters, ``miners_seed`` where the population set it),
    once per distinct object.
    """
    declared: list[tuple[str, Behaviour]] = []
    for name, value in miners.items():
        params = {k: v for k, v in value.items() if k not in ("count", "share")} if isinstance(value, dict) else {}
        declared.append((name, with_seed(make_behaviour(name, params), miners_seed)))
    known: dict[int, str] = {}
    labels = []
    for behaviour in behaviours:
        if id(behaviour) not in known:
            known[id(behaviour)] = next((name for name, built in declared if built == behaviour),
                                        getattr(behaviour, "name", type(behaviour).__name__))
        labels.append(known[id(behaviour)])
    return labels


def backend_uids(labels: list[str], behaviours: list[Behaviour], uids: np.ndarray) -> np.ndarray:
    """Each uid's backend, named by the first uid it serves: the uid itself, unless its strategy's
    ``backends`` puts its uids on fewer machines (its i-th uid on machine ``i % backends``)."""
    backend = np.array(uids, copy=True)
    for label in dict.fromkeys(labels):
        members = [i for i, other in enumerate(labels) if other == label]
        machines = behaviours[members[0]].backends
        if machines is not None:
            for position, member in enumerate(members):
                backend[member] = uids[members[position % machines]]
    return backend


def one_hotkey_plan(plan: TournamentPlan) -> TournamentPlan | None:
    """The plan that runs every strategy whose uids share fewer ``backends`` than uids on one hotkey per
    backend, or None when no strategy does.

    The strategy keeps ``backends`` uids; the rest of its uids play the baseline's ``honest`` behaviour
    (with the ``honest`` entry's parameters, one machine each, when ``miners`` declares one) under the label
    ``<strategy>.spare``, declared right after it, so that every other uid plays what it played before
    and the seeds draw the same roles, latencies and wordings. ``honest`` itself is never reduced: the
    uids nobody declared play it too.
    """
    miners = plan.neuron.miners
    behaviours = build_population(miners, plan.neuron.metagraph.n)
    labels = strategy_labels(miners, behaviours)
    honest = miners.get(DEFAULT_BEHAVIOUR)
    own = ("count", "share", "backends")  # the honest entry's, not a spare's
    spare = {k: v for k, v in honest.items() if k not in own} if isinstance(honest, dict) else {}
    spec: dict = {}
    for name, value in miners.items():
        members = [behaviour for behaviour, label in zip(behaviours, labels) if label == name]
        machines = members[0].backends if members else None
        spec[name] = value
        if machines is not None and machines < len(members) and name != DEFAULT_BEHAVIOUR:  # honest: undeclared too
            params = {k: v for k, v in value.items() if k != "share"} if isinstance(value, dict) else {}
            spec[name] = {**params, "count": machines}
            spec[f"{name}{SPARE}"] = {**spare, "behaviour": DEFAULT_BEHAVIOUR, "count": len(members) - machines}
    if len(spec) == len(miners):
        return None
    return replace(plan, neuron=plan.neuron.model_copy(update={"miners": spec}))


def check_judged(miners: dict, n: int, seeds: PartSeeds, miners_seed: int | None, baseline: str,
                 controls: list[str], where: Callable[..., str], players: str = "uid of the neuron") -> None:
    """The ``baseline`` and every control must be strategies some uid of ``miners`` (over ``n`` uids) plays,
    or there is nothing to compare: a :class:`ConfigError` at the ``where(key, ...)`` of the first that is
    not (``players``: who plays them, in the message)."""
    behaviours = build_population(miners, n, seeds.population, miners_seed)
    strategies = sorted(set(strategy_labels(miners, behaviours, miners_seed)))
    listed = ", ".join(strategies)
    if baseline not in strategies:
        raise ConfigError(f"the baseline strategy '{baseline}' is played by no {players}; its strategies are "
                          f"{listed} (declare fewer miners so that some are honest, or set baseline)",
                          where("baseline"))
    for index, control in enumerate(controls):
        if control == baseline or control not in strategies:
            why = "is the baseline" if control == baseline else f"is played by no {players}"
            raise ConfigError(f"the control strategy '{control}' {why}; a control is a strategy of the miners "
                              f"block besides the baseline (its strategies are {listed}), e.g. "
                              "honest_twin: {behaviour: honest, count: 8}", where("controls", index))


def gating_filters(reward_model: object) -> list[str]:
    """The filters whose mask multiplies the reward: a RewardStack's enabled ones (every one when
    ``off_zeroes_rewards`` replaces the disabled ones by zeros); none for other reward models."""
    filters = getattr(reward_model, "filters", None) or []
    every = bool(getattr(reward_model, "off_zeroes_rewards", False))
    return [name for name, _, enabled in filters if enabled or every]


class CallCounts:
    """Per-uid counts folded in from events: calls, successful calls, short answers (a success return
    code but :data:`MIN_COMPLETION_CHARS` or fewer characters), the sum and sum of squares of the
    rewards, and per gating filter (:meth:`track`) the scored completions it zeroed. Several neurons
    may fold their events into one tally (a network's honest validators)."""

    def __init__(self, n: int, filters: list[str] = ()) -> None:
        self.calls = np.zeros(n, dtype=np.int64)
        self.successes = np.zeros(n, dtype=np.int64)
        self.short = np.zeros(n, dtype=np.int64)
        self.reward_sum = np.zeros(n)
        self.reward_sq_sum = np.zeros(n)
        self.zeroed: dict[str, np.ndarray] = {}
        self.track(filters)

    def track(self, filters: list[str]) -> None:
        """Count the completions each of ``filters`` zeroes from now on."""
        for name in filters:
            self.zeroed.setdefault(name, np.zeros(len(self.calls), dtype=np.int64))

    def add(self, events: list[Event]) -> None:
        for event in events:
            if event.weighted:  # core-2023's question calls earn nothing
                self._add(event)

    def _add(self, event: Event) -> None:
        n = len(self.calls)
        self.calls += np.bincount(np.asarray(event.uids, dtype=np.int64), minlength=n)
        short = [uid for uid, text, code in zip(event.uids, event.completions, event.return_codes)
                 if code == SUCCESS and len(text) <= MIN_COMPLETION_CHARS]
        self.short += np.bincount(np.asarray(short, dtype=np.int64), minlength=n)
        successful = np.asarray(event.successful_uids, dtype=np.int64)
        rewards = np.asarray(event.rewards, dtype=np.float64)
        self.successes += np.bincount(successful, minlength=n)
        self.reward_sum += np.bincount(successful, weights=rewards, minlength=n)
        self.reward_sq_sum += np.bincount(successful, weights=rewards ** 2, minlength=n)
        for name, counts in self.zeroed.items():
            mask = event.reward_components.get(f"filter:{name}")
            if mask is not None and len(mask) == len(successful):
                counts += np.bincount(successful[np.asarray(mask) == 0], minlength=n)

    def columns(self) -> dict[str, np.ndarray]:
        return {"calls": self.calls, "successes": self.successes, "short_calls": self.short,
                "reward_sum": self.reward_sum, "reward_sq_sum": self.reward_sq_sum,
                **{f"{ZEROED}{name}": counts for name, counts in self.zeroed.items()}}

    def restore(self, columns: dict[str, np.ndarray]) -> None:
        """Carry on counting from what :meth:`columns` gave (a resumed run)."""
        for name, values in columns.items():
            if name.startswith(ZEROED):
                self.zeroed[name.removeprefix(ZEROED)] = np.array(values, dtype=np.int64)
            else:
                getattr(self, "short" if name == "short_calls" else name)[:] = values


def tournament_progress(plan: TournamentPlan, completed: int = 0, runs: int = 1) -> Progress:
    """The progress of a tournament's steps over all its repetitions (``completed`` of them already done;
    ``runs``: 2 with its one-hotkey run): steps done with an ETA, repetitions done, scorer calls and
    cache hits."""
    since = MEMO.counts()
    unit = "training steps" if plan.method == "train" else "forward passes"
    total = plan.repetitions * runs

    def details() -> str:
        done = f"{progress.done // plan.steps}/{total} repetitions done"
        if runs > 1:
            done += f" ({plan.repetitions} of them on one hotkey per backend)"
        scored = MEMO.activity(since)
        return f"{done}, {scored}" if scored else done

    progress = Progress(unit, plan.steps * total, plan.steps * completed, details)
    return progress


def run_repetition(plan: TournamentPlan, repetition: int, progress: Progress | None = None) -> Repetition:
    """Run one repetition with its own seed; the neuron's history is folded in and dropped as it goes
    (``progress`` advances by every block of steps done).

    The miners keep their habits from one repetition to the next (the same wording, the same sampling
    seeds: ``miners_seed``, drawn from the tournament's seed when unset); roles, latencies and gating change.
    """
    miners_seed = plan.neuron.miners_seed if plan.neuron.miners_seed is not None else part_seeds(plan.seed).miners
    config = plan.neuron.model_copy(update={"seed": repetition_seed(plan.seed, repetition), "miners_seed": miners_seed})
    neuron = Neuron(config, prompts=list(plan.prompts), base_dir=plan.base_dir, contexts=list(plan.contexts))
    if plan.references or plan.answers:
        neuron.dendrite_pool.learn(plan.prompts, plan.references or [a if isinstance(a, str) else None
                                                                     for a in plan.answers])
    labels = strategy_labels(config.miners, neuron.dendrite_pool.behaviours, miners_seed)
    names = sorted(set(labels))
    codes = np.array([names.index(label) for label in labels])
    counts = np.bincount(codes, minlength=len(names))
    calls = CallCounts(neuron.metagraph.n, gating_filters(neuron.reward_model))
    snapshots: list[pd.DataFrame] = []
    paths: list[pd.DataFrame] = []
    every = plan.snapshot_every
    taken = -(-plan.steps // every)  # share snapshots per repetition (rounded up)
    thin = -(-taken // MAX_UID_SNAPSHOTS)  # each uid's weight is kept at every thin-th of them
    done = 0
    while done < plan.steps:
        block = min(every, plan.steps - done)
        _advance(neuron, plan, done, block)
        neuron.dendrite_pool.check_strategies()
        calls.add(neuron.history)
        neuron.history.clear()  # folded in: keep memory flat
        done += block
        if progress is not None:
            progress.advance(block)
        uids, weights = neuron.compute_weights()
        snapshots.append(pd.DataFrame({"repetition": repetition, "step": done, "behaviour": names,
                                       "uids": counts, "share": np.bincount(codes, weights, len(names))}))
        if (done // every) % thin == 0 or done == plan.steps:
            paths.append(pd.DataFrame({"repetition": repetition, "step": done, "uid": uids, "behaviour": labels,
                                       "weight": weights}))
    _, weights = neuron.compute_weights()
    uid_weights = pd.DataFrame({
        "repetition": repetition, "uid": neuron.metagraph.uids, "behaviour": labels,
        "backend": backend_uids(labels, neuron.dendrite_pool.behaviours, neuron.metagraph.uids),
        "available": np.isin(neuron.metagraph.uids, neuron.available_uids()),
        "weight": weights, "score": neuron.moving_averaged_scores.scores, **calls.columns()})
    shares = pd.concat(snapshots, ignore_index=True) if snapshots else pd.DataFrame(
        columns=["repetition", "step", "behaviour", "uids", "share"])
    trajectories = pd.concat(paths, ignore_index=True) if paths else pd.DataFrame(
        columns=["repetition", "step", "uid", "behaviour", "weight"])
    return Repetition(shares, uid_weights, trajectories)


def _advance(neuron: Neuron, plan: TournamentPlan, done: int, steps: int) -> None:
    if plan.method == "train":
        neuron.train(steps)
        return
    for unit in range(done, done + steps):
        question = plan.prompts[unit % len(plan.prompts)]
        loops.prompt_pass(neuron, question, topk=plan.topk, random_sample_uids=plan.random_sample_uids,
                          train_gating_model=plan.train_gating_model)


def run_tournament(plan: TournamentPlan, options: JudgeOptions | None = None) -> TournamentResult:
    """Every repetition in turn (then the one-hotkey run's, when :func:`one_hotkey_plan` gives one), then
    the verdicts (``options`` default: baseline ``honest``, 95%, and the neuron's ``weights.alpha`` for
    the convergence check)."""
    options = options or JudgeOptions(seed=judge_seed(plan.seed), alpha=plan.neuron.weights.alpha)
    one_hotkey = one_hotkey_plan(plan)
    progress = tournament_progress(plan, runs=2 if one_hotkey else 1)
    repetitions = [run_repetition(plan, r, progress) for r in range(plan.repetitions)]
    shares = pd.concat([r.shares for r in repetitions], ignore_index=True)
    uid_weights = pd.concat([r.uid_weights for r in repetitions], ignore_index=True)
    trajectories = pd.concat([r.trajectories for r in repetitions], ignore_index=True)
    alone = None
    if one_hotkey is not None:
        alone = pd.concat([run_repetition(one_hotkey, r, progress).uid_weights for r in range(plan.repetitions)],
                          ignore_index=True)
    strategies, verdicts = judge(uid_weights, options, alone)
    return TournamentResult(shares, uid_weights, strategies, verdicts, repetitions, trajectories, alone)


def _colors(final: pd.Series, baseline: str) -> dict[str, object]:
    """One colour per strategy, the baseline black, the others by final value (the same in both plots)."""
    order = [baseline] + [b for b in final.sort_values(ascending=False).index if b != baseline]
    colors = pyplot().get_cmap("tab20" if len(order) > 10 else "tab10")
    return {b: "black" if b == baseline else colors(index % colors.N)
            for index, b in enumerate(b for b in order if b in final.index)}


def plot_weight_share(shares: pd.DataFrame, path: Path, baseline: str = "honest", unit: str = "step") -> Path:
    """Weight share by strategy over steps: the mean over repetitions, with a min-max band."""
    summary = shares.groupby(["behaviour", "step"])["share"].agg(["mean", "min", "max"]).reset_index()
    final = summary[summary["step"] == summary["step"].max()].set_index("behaviour")["mean"]
    with figure(path) as axes:
        for behaviour, color in _colors(final, baseline).items():
            rows = summary[summary["behaviour"] == behaviour]
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


def plot_weight_per_uid(trajectories: pd.DataFrame, uid_weights: pd.DataFrame, path: Path, baseline: str = "honest",
                        unit: str = "step", measure: str = "weight") -> Path:
    """Weight (or the ``measure`` the ``weight`` columns hold) per uid over steps by strategy: thick lines,
    the mean per available uid of each strategy (mean over repetitions); thin lines, each available uid
    of the first repetition."""
    available = uid_weights.loc[uid_weights["available"], ["repetition", "uid"]]
    paths = trajectories.merge(available, on=["repetition", "uid"])
    mean = paths.groupby(["behaviour", "repetition", "step"])["weight"].mean().groupby(["behaviour", "step"]).mean()
    mean = mean.reset_index()
    final = mean[mean["step"] == mean["step"].max()].set_index("behaviour")["weight"]
    first = paths[paths["repetition"] == paths["repetition"].min()]
    with figure(path) as axes:
        for behaviour, color in _colors(final, baseline).items():
            for _, rows in first[first["behaviour"] == behaviour].groupby("uid"):
                axes.plot(rows["step"], rows["weight"], color=color, linewidth=0.4, alpha=0.35)
            rows = mean[mean["behaviour"] == behaviour]
            axes.plot(rows["step"], rows["weight"], color=color, linewidth=2.2 if behaviour == baseline else 1.8,
                      label=behaviour)
        repetitions = trajectories["repetition"].nunique()
        axes.set_xlabel(unit)
        axes.set_ylabel(f"{measure} per uid")
        axes.set_title(f"{measure.capitalize()} per uid by strategy (thick: mean of {repetitions} repetitions; "
                       "thin: each uid of the first)", fontsize=9)
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return path
