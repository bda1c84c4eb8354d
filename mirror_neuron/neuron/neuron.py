"""The mirror neuron: the 2023 text-prompting validator's loop over swappable parts.

It keeps the validator's API (``forward``, ``train``, ``inference``, ``compute_weights``) and
follows the reference formulas. Deviations, each for simulation's sake, are noted where they occur.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mirror_neuron.neuron.config import (
    NeuronConfig,
    build_gating,
    build_metagraph,
    build_pool,
    build_reward,
    part_seeds,
)
from mirror_neuron.neuron.dendrite import DummyDendritePool
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.neuron.state import pack, unpack
from mirror_neuron.neuron.weights import ChainLimits, MovingAverage, compute_weights

MIN_COMPLETION_CHARS = 10  # a completion must be longer than this to count as successful
INFERENCE_TOPK = 10
BASE_PROMPT = "You are a helpful assistant. Answer accurately and concisely."
FOLLOW_UP = "\n\nAsk a follow up question."
AI_PREFIX = "As an AI language model, "


@dataclass
class Event:
    """What one forward pass did (the validator's event record, plus what a simulation can see)."""

    step: int
    block: int
    roles: list[str]
    messages: list[str]
    question: bool
    uids: list[int]
    completions: list[str]
    return_codes: list[int]
    elapsed: list[float]
    errors: list[str]
    gating_scores: list[float]
    successful_uids: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    reward_components: dict[str, list[float]] = field(default_factory=dict)
    reward_normalized: dict[str, list[float]] = field(default_factory=dict)
    gating_loss: float = 0.0
    best: str = ""

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


class Neuron:
    """A simulated validator over a metagraph, a dendrite pool, a gating model and a reward model.

    ``reward_model=None`` reproduces the validator run without a reward model: the gating scores of
    the successful uids stand in for rewards.
    """

    def __init__(self, config: NeuronConfig | dict[str, Any] | None = None, *, metagraph: Metagraph | None = None,
                 dendrite_pool: DummyDendritePool | None = None, gating_model: GatingModelBase | None = None,
                 reward_model: RewardModelBase | None | str = "from config", prompts: list[str] | None = None,
                 seed: int = 0, base_dir: Path | None = None) -> None:
        """Build every part from ``config`` (a :class:`NeuronConfig` or its dict), except parts passed in.

        The original's ``__init__`` read a bittensor config and built real parts; the mirror's builds
        simulated ones. ``seed`` applies when the config sets none; relative model paths in the reward's
        config are read from ``base_dir`` (the config's folder) when given.
        """
        config = config if isinstance(config, NeuronConfig) else NeuronConfig.model_validate(config or {})
        seed = config.seed if config.seed is not None else seed
        streams = part_seeds(seed)
        self.config = config
        self.metagraph = metagraph or build_metagraph(config, streams.metagraph)
        self.dendrite_pool = dendrite_pool or build_pool(config, self.metagraph.n, streams.population, streams.pool)
        self.gating_model = gating_model or build_gating(config, self.metagraph.n, streams.gating)
        self.reward_model = build_reward(config, streams.reward, base_dir) if reward_model == "from config" \
            else reward_model
        weights = config.weights
        self.moving_averaged_scores = MovingAverage.zeros(self.metagraph.n, weights.alpha, weights.rule)
        self.limits = ChainLimits(weights.min_allowed_weights, weights.max_weight_limit, weights.exclude_quantile)
        self.timeout = config.timeout
        self.training_topk = config.training_topk
        self.churn_every, self.churn_count = config.churn.every, config.churn.count
        self.rng = np.random.default_rng(streams.neuron)
        self.prompts = prompts or []
        self.history: list[Event] = []
        self.steps_done = 0  # forward passes so far (the history may be cleared to save memory)
        self.train_steps_done = 0
        self.bootstrap = ""  # the next training prompt
        self._hotkeys = list(self.metagraph.hotkeys)
        self._generation = self.metagraph.generation

    # -- the validator's API -------------------------------------------------------------------------

    def forward(self, roles: list[str], messages: list[str], topk: int | None = None,
                random_sample_uids: bool = False, train_gating_model: bool = False, train_network: bool = False,
                timeout: float | None = None, question: bool = False) -> Event | None:
        """Query top-k (or random) available uids, reward their completions, update moving scores.

        Returns the event, or ``None`` when no uid is available or no call succeeds (as the
        original; the event of a pass with no success is still kept in :attr:`history`).
        ``train_network`` is accepted for compatibility and does nothing: the mirror trains no network.
        """
        if self.churn_every and self.steps_done and self.steps_done % self.churn_every == 0:
            candidates = self.metagraph.uids
            self.metagraph.churn(self.rng.choice(candidates, size=min(self.churn_count, len(candidates)), replace=False))
        self.sync_metagraph()
        available = self.metagraph.available_uids()
        if len(available) == 0:
            return None
        topk = len(available) if topk is None or topk == -1 else min(topk, len(available))
        query = Query(tuple(roles), tuple(messages), question)
        scores = self.gating_model.scores(query.text)
        uids = self._pick_uids(available, scores, topk, random_sample_uids)
        calls = self.dendrite_pool(roles, messages, uids, timeout or self.timeout, question=question)
        event = Event(
            step=self.steps_done, block=self.metagraph.block, roles=list(roles), messages=list(messages),
            question=question, uids=uids.tolist(), completions=[c.completion for c in calls],
            return_codes=[c.return_code for c in calls], elapsed=[c.elapsed for c in calls],
            errors=[c.error for c in calls], gating_scores=scores[uids].tolist())
        self.history.append(event)
        self.steps_done += 1
        ok = np.array([c.is_success and len(c.completion) > MIN_COMPLETION_CHARS for c in calls], dtype=bool)
        successful, unsuccessful = uids[ok], uids[~ok]
        if len(successful) == 0:
            return None
        completions = [c.completion for c, good in zip(calls, ok) if good]
        rewards = self._reward(query, completions, scores[successful], event)
        if train_gating_model:
            event.gating_loss = float(self.gating_model.backward(successful, scores[successful], rewards))
        event.successful_uids = successful.tolist()
        event.rewards = rewards.tolist()
        event.best = completions[int(np.argmax(rewards))]
        self.moving_averaged_scores.update(successful, rewards, unsuccessful)
        self.metagraph.block += 1
        return event

    def train(self, steps: int) -> list[Event]:
        """The bootstrap loop, ``steps`` times: ask ``training_topk`` random uids for a question, then
        for its answer.

        Each step trains the gating model on both passes. Every third step the bootstrap restarts
        from a fresh prompt (the original used squad_v2 contexts; the mirror uses :attr:`prompts`).
        Otherwise it asks for a follow-up to the best answer. A question that starts with "As an
        AI language model, " loses that phrase, as in the original. Deviations: the original looped
        forever and kept the first question whose reward was above 0; the mirror runs ``steps`` steps
        and keeps the best-rewarded question, so that a step costs two forward passes, always.
        """
        events: list[Event] = []
        for _ in range(steps):
            if self.train_steps_done % 3 == 0 or not self.bootstrap:
                self.bootstrap = self._fresh_prompt()
            asked = self.forward(["system", "user"], [BASE_PROMPT, self.bootstrap], topk=self.training_topk,
                                 random_sample_uids=True, train_gating_model=True, question=True)
            question = asked.best.removeprefix(AI_PREFIX) if asked else self.bootstrap
            answered = self.forward(["system", "user"], [BASE_PROMPT, question], topk=self.training_topk,
                                    random_sample_uids=True, train_gating_model=True)
            events.extend(e for e in (asked, answered) if e is not None)
            self.bootstrap = f"{answered.best}{FOLLOW_UP}" if answered else self._fresh_prompt()
            self.train_steps_done += 1
        return events

    def inference(self, messages: list[str], timeout: float | None = None, dont_use_reward_model: bool = True,
                  roles: list[str] | None = None) -> str:
        """Answer ``messages`` with the top-10 uids by gating score: the first non-empty completion, or
        with the reward model the best-rewarded one. Moving scores are not updated."""
        roles = roles or ["user"] * len(messages)
        query = Query(tuple(roles), tuple(messages))
        available = self.metagraph.available_uids()
        if len(available) == 0:
            return ""
        scores = self.gating_model.scores(query.text)
        uids = self._pick_uids(available, scores, min(INFERENCE_TOPK, len(available)), False)
        calls = self.dendrite_pool(roles, messages, uids, timeout or self.timeout)
        completions = [c.completion for c in calls if c.is_success and c.completion]
        if not completions:
            return ""
        if dont_use_reward_model or self.reward_model is None:
            return completions[0]
        rewards = np.nan_to_num(self.reward_model.rewards(query, completions).final, nan=-np.inf)
        return completions[int(np.argmax(rewards))]

    def compute_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(uids, weights)``: the L1-normalized moving scores under the chain limits."""
        return self.metagraph.uids, compute_weights(self.moving_averaged_scores.scores, self.limits)

    def sync_metagraph(self) -> np.ndarray:
        """Reset the moving score of every uid whose hotkey changed since the last sync."""
        if self._generation == self.metagraph.generation:
            return np.zeros(0, dtype=int)
        changed = self.metagraph.changed_hotkeys(self._hotkeys)
        self.moving_averaged_scores.reset(changed)
        self._hotkeys = list(self.metagraph.hotkeys)
        self._generation = self.metagraph.generation
        return changed

    # -- persistence ---------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Save the moving scores, hotkeys, block, and the random state of every part to ``path`` (.npz)."""
        graph = self.metagraph
        state = {"hotkeys": self._hotkeys, "metagraph_hotkeys": graph.hotkeys, "next_hotkey": graph._next_hotkey,
                 "block": graph.block, "steps_done": self.steps_done, "train_steps_done": self.train_steps_done,
                 "bootstrap": self.bootstrap, "rng": self.rng.bit_generator.state,
                 "pool_rng": self.dendrite_pool.rng.bit_generator.state, "gating": self.gating_model.get_state(),
                 "reward": self.reward_model.get_state() if self.reward_model else None}
        text, arrays = pack(state)
        with open(path, "wb") as handle:
            np.savez(handle, scores=self.moving_averaged_scores.scores, state=text, **arrays)

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote (the parts themselves come from the config)."""
        with np.load(path) as saved:
            self.moving_averaged_scores.scores = saved["scores"].copy()
            state = unpack(str(saved["state"]), saved)
        self._hotkeys = state["hotkeys"]
        self._generation = -1  # compare hotkeys at the next sync
        self.metagraph.hotkeys = list(state["metagraph_hotkeys"])
        self.metagraph._next_hotkey = state["next_hotkey"]
        self.metagraph.block = state["block"]
        self.steps_done = state["steps_done"]
        self.train_steps_done = state["train_steps_done"]
        self.bootstrap = state["bootstrap"]
        self.rng.bit_generator.state = state["rng"]
        self.dendrite_pool.rng.bit_generator.state = state["pool_rng"]
        self.gating_model.set_state(state["gating"])
        if self.reward_model is not None:
            self.reward_model.set_state(state["reward"])

    # -- internals -----------------------------------------------------------------------------------

    def _pick_uids(self, available: np.ndarray, scores: np.ndarray, topk: int, random_sample: bool) -> np.ndarray:
        if random_sample:
            return self.rng.choice(available, size=topk, replace=False)
        available_scores = scores[available]
        if topk < len(available):
            top = np.argpartition(-available_scores, topk - 1)[:topk]
        else:
            top = np.arange(len(available))
        top = top[np.lexsort((available[top], -available_scores[top]))]  # best first, ties by uid
        return available[top]

    def _reward(self, query: Query, completions: list[str], gating_scores: np.ndarray, event: Event) -> np.ndarray:
        """Rewards of the successful completions; non-finite rewards are recorded, then count as 0."""
        if self.reward_model is None:
            return np.asarray(gating_scores, dtype=np.float64)
        result = self.reward_model.rewards(query, completions)
        event.reward_components = {name: np.asarray(v, dtype=np.float64).tolist() for name, v in result.raw.items()}
        event.reward_normalized = {name: np.asarray(v, dtype=np.float64).tolist()
                                   for name, v in result.normalized.items()}
        return np.nan_to_num(np.asarray(result.final, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)

    def _fresh_prompt(self) -> str:
        if not self.prompts:
            return "Ask a question about a topic you know well."
        return self.prompts[int(self.rng.integers(len(self.prompts)))]
