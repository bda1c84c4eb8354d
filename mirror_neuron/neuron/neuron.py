"""The mirror neuron: the 2023 text-prompting validator's loop over swappable parts.

It keeps the validator's API (``forward``, ``train``, ``inference``, ``compute_weights``) and
follows the reference formulas. Deviations, each for simulation's sake, are noted where they occur.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mirror_neuron.neuron import loops
from mirror_neuron.neuron.config import (
    MIRROR_BASE_PROMPT,
    NeuronConfig,
    build_gating,
    build_metagraph,
    build_pool,
    build_reward,
    build_screen,
    part_seeds,
)
from mirror_neuron.neuron.dendrite import Call, DummyDendritePool
from mirror_neuron.neuron.gating.base import GatingModelBase
from mirror_neuron.neuron.metagraph import Metagraph
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase
from mirror_neuron.neuron.state import pack, unpack
from mirror_neuron.neuron.weights import ChainLimits, MovingAverage, compute_weights

MIN_COMPLETION_CHARS = 10  # a completion must be longer than this to count as successful
BASE_PROMPT = MIRROR_BASE_PROMPT  # the mirror's system message (a version's is ``config.loop.base_prompt``)


@dataclass
class Event:
    """What one forward pass (or, in core-2023, one round of question calls) did: the validator's event
    record, plus what a simulation can see.

    ``name`` is the step kind as the originals logged it (openvalidators: ``augment``, ``followup0``..,
    ``answer0``..; core-2023: ``answer`` for the forward, ``question`` for the question calls; the mirror's
    own loop: ``question`` / ``answer``; a forward over data prompts: ``forward``). ``weighted`` says
    whether the event moved the moving scores (core-2023's question calls do not). ``step_length`` is
    the simulated seconds the step's calls took (the slowest call, at most the timeout).
    """

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
    name: str = "forward"
    weighted: bool = True
    step_length: float = 0.0

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
                 seed: int = 0, base_dir: Path | None = None, contexts: list[str] | None = None) -> None:
        """Build every part from ``config`` (a :class:`NeuronConfig` or its dict), except parts passed in.

        The original's ``__init__`` read a bittensor config and built real parts; the mirror's builds
        simulated ones. ``seed`` applies when the config sets none; relative model paths in the reward's
        config are read from ``base_dir`` (the config's folder) when given. ``prompts`` are the data's
        questions, ``contexts`` its passages (the versions' loops draw their contexts from them).
        """
        config = config if isinstance(config, NeuronConfig) else NeuronConfig.model_validate(config or {})
        seed = config.seed if config.seed is not None else seed
        streams = part_seeds(seed)
        self.config = config
        self.metagraph = metagraph or build_metagraph(config, streams.metagraph)
        self.dendrite_pool = dendrite_pool or build_pool(config, self.metagraph.n, streams)
        self.gating_model = gating_model or build_gating(config, self.metagraph.n, streams.gating)
        self.reward_model = build_reward(config, streams.reward, base_dir) if reward_model == "from config" \
            else reward_model
        weights = config.weights
        self.moving_averaged_scores = MovingAverage.zeros(self.metagraph.n, weights.alpha, weights.rule)
        self.limits = ChainLimits(weights.min_allowed_weights, weights.max_weight_limit, weights.exclude_quantile,
                                  weights.quantile_clamp)
        self.screen = build_screen(config)
        self.timeout = config.timeout
        self.training_topk = config.training_topk
        self.churn_every, self.churn_count = config.churn.every, config.churn.count
        self.rng = np.random.default_rng(streams.neuron)
        self.prompts = prompts or []
        self.contexts = [c for c in contexts or [] if c]
        self.history: list[Event] = []
        self.steps_done = 0  # forward passes so far (the history may be cleared to save memory)
        self.train_steps_done = 0
        self.bootstrap = ""  # the next training prompt
        self.system_prompt = ""  # core-2023: the system message, replaced by the context at each reset
        self._hotkeys = list(self.metagraph.hotkeys)
        self._generation = self.metagraph.generation

    # -- the validator's API -------------------------------------------------------------------------

    def forward(self, roles: list[str], messages: list[str], topk: int | None = None,
                random_sample_uids: bool = False, train_gating_model: bool = False, train_network: bool = False,
                timeout: float | None = None, question: bool = False, name: str = "forward") -> Event | None:
        """Query top-k (or random) available uids, reward their completions, update moving scores.

        Returns the event, or ``None`` when no uid is available or no call succeeds (as the
        original; the event of a pass with no success is still kept in :attr:`history`).
        ``train_network`` is accepted for compatibility and does nothing: the mirror trains no network.
        ``name`` is the event's step kind (see :class:`Event`).
        """
        if topk is not None and topk != -1 and topk < 1:
            raise ValueError(f"topk must be positive, or None or -1 for every available uid, not {topk}")
        self._maybe_churn()
        self.sync_metagraph()
        available = self.available_uids()
        if len(available) == 0:
            return None
        topk = len(available) if topk is None or topk == -1 else min(topk, len(available))
        query = Query(tuple(roles), tuple(messages), question, name=name)
        scores = self.gating_model.scores(query.text)
        uids = self._pick_uids(available, scores, topk, random_sample_uids)
        calls = self.dendrite_pool(roles, messages, uids, timeout or self.timeout, question=question, name=name)
        event = self.record(query, uids, calls, scores[uids])
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
        """``steps`` steps of the training loop of the version this neuron mirrors (``config.loop.kind``;
        see :mod:`mirror_neuron.neuron.loops`); returns the events they recorded."""
        seen = len(self.history)
        for _ in range(steps):
            loops.train_step(self)
            self.train_steps_done += 1
        return self.history[seen:]

    def inference(self, messages: list[str], timeout: float | None = None, dont_use_reward_model: bool = True,
                  roles: list[str] | None = None) -> str:
        """Answer ``messages`` with the top uids by gating score (``loop.inference_topk``, 10): the first
        non-empty completion, or with the reward model the best-rewarded one. Moving scores are not updated.

        With ``loop.inference_over_all_uids`` (core-2023) the top uids are taken over every uid, as the
        original did (validators and non-serving uids included); the reward is the plain form when the
        reward model has one (``r(prompt + completion)``), and the version's ``screen`` drops flagged texts.
        """
        return loops.inference(self, messages, timeout, dont_use_reward_model, roles)

    def available_uids(self) -> np.ndarray:
        """Uids this validator may query (see :meth:`Metagraph.available_uids`, with its ``vpermit_tao_limit``)."""
        return self.metagraph.available_uids(self.config.vpermit_tao_limit)

    def record(self, query: Query, uids: np.ndarray, calls: list[Call], gating_scores: np.ndarray,
               weighted: bool = True) -> Event:
        """Start the event of one round of ``calls`` to ``uids`` and keep it in :attr:`history`."""
        event = Event(
            step=self.steps_done, block=self.metagraph.block, roles=list(query.roles), messages=list(query.messages),
            question=query.question, uids=np.asarray(uids).tolist(), completions=[c.completion for c in calls],
            return_codes=[c.return_code for c in calls], elapsed=[c.elapsed for c in calls],
            errors=[c.error for c in calls], gating_scores=np.asarray(gating_scores).tolist(), name=query.name,
            weighted=weighted, step_length=max((c.elapsed for c in calls), default=0.0))
        self.history.append(event)
        return event

    def compute_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(uids, weights)``: the L1-normalized moving scores under the chain limits."""
        return self.metagraph.uids, compute_weights(self.moving_averaged_scores.scores, self.limits)

    def sync_metagraph(self) -> np.ndarray:
        """Reset the moving score of every uid whose hotkey changed since the last sync; openvalidators
        also re-initializes those uids' rows of the gating head (its ``resync_linear_layer``)."""
        if self._generation == self.metagraph.generation:
            return np.zeros(0, dtype=int)
        changed = self.metagraph.changed_hotkeys(self._hotkeys)
        self.moving_averaged_scores.reset(changed)
        if self.config.loop.kind == "openvalidators":
            self.gating_model.resync(changed)
        self._hotkeys = list(self.metagraph.hotkeys)
        self._generation = self.metagraph.generation
        return changed

    # -- persistence ---------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Save the moving scores, hotkeys, block, and the random state of every part to ``path`` (.npz)."""
        graph = self.metagraph
        state = {"hotkeys": self._hotkeys, "metagraph_hotkeys": graph.hotkeys, "next_hotkey": graph._next_hotkey,
                 "block": graph.block, "steps_done": self.steps_done, "train_steps_done": self.train_steps_done,
                 "bootstrap": self.bootstrap, "system_prompt": self.system_prompt, "rng": self.rng.bit_generator.state,
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
        self.system_prompt = state.get("system_prompt", "")
        self.rng.bit_generator.state = state["rng"]
        self.dendrite_pool.rng.bit_generator.state = state["pool_rng"]
        self.gating_model.set_state(state["gating"])
        if self.reward_model is not None:
            self.reward_model.set_state(state["reward"])

    # -- internals -----------------------------------------------------------------------------------

    def _maybe_churn(self) -> None:
        """Every ``churn.every`` forward passes, ``churn.count`` random uids get new hotkeys."""
        if self.churn_every and self.steps_done and self.steps_done % self.churn_every == 0:
            candidates = self.metagraph.uids
            self.metagraph.churn(self.rng.choice(candidates, size=min(self.churn_count, len(candidates)), replace=False))

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
