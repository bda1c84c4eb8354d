"""The reward contract and the baseline reward models.

A reward model scores ``(prompt, completion)`` rows, many at a time: :meth:`RewardModelBase.score`
(NaN flags a row it could not score). It may score preference pairs (:meth:`~RewardModelBase.score_pairs`)
and gives the neuron its per-query reward (:meth:`~RewardModelBase.rewards`); both default to
``score``. A model implements ``score``, or ``rewards`` when its reward needs the whole query
(the conversation, the reference answer); the defaults then derive one from the other.

Two capabilities say what callers may rely on:

- ``stateless``: a row's score depends on that row alone, not on the other rows of the call nor on
  earlier calls, so scoring rows together or one by one gives the same scores (within float rounding).
- ``remembers``: scores are kept once computed (see :mod:`.memo`), so scoring a question's
  completions in one call first makes later calls on the same rows cheap.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import numpy as np

from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.registry import component

K = TypeVar("K", bound=Hashable)


@dataclass
class Rewards:
    """Final rewards for a batch of completions, and each component, raw and normalized."""

    final: np.ndarray
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    normalized: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class PairScores:
    """Per preference pair: the pairwise loss and both end scores."""

    loss: np.ndarray
    chosen_end_scores: np.ndarray
    rejected_end_scores: np.ndarray

    @classmethod
    def from_scores(cls, chosen: np.ndarray, rejected: np.ndarray) -> PairScores:
        """The Bradley-Terry reading of two score vectors: ``loss = -log sigmoid(chosen - rejected)``."""
        chosen, rejected = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
        return cls(np.logaddexp(0.0, -(chosen - rejected)), chosen, rejected)

    def column(self, name: str) -> np.ndarray:
        """One of ``loss``, ``chosen_end_scores``, ``rejected_end_scores`` by name."""
        if name not in ("loss", "chosen_end_scores", "rejected_end_scores"):
            raise KeyError(name)
        values: np.ndarray = getattr(self, name)
        return values


class RewardModelBase:
    """Scores completions: rows of ``(prompt, completion)`` in batches, and the completions of one query.

    ``raw_name`` names the model's raw reward in :class:`Rewards` (``raw[raw_name]``).
    ``batch_size``: rows per forward pass, for models that batch; scores do not depend on it.
    ``max_length``: for models that tokenize, the tokens each scored text is cut to (None: not cut).
    """

    raw_name: ClassVar[str] = "score"
    stateless: ClassVar[bool] = False
    remembers: ClassVar[bool] = False
    batch_size: int = 1
    max_length: int | None = None

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.score is RewardModelBase.score and cls.rewards is RewardModelBase.rewards:
            raise TypeError(f"{cls.__name__} must implement score(prompts, completions) or rewards(query, completions)")

    def describe(self) -> dict[str, str | int]:
        """The loaded network's parameter count, device and dtype (see ``models.device.describe_network``);
        models without a network describe nothing."""
        return {}

    def stand_ins(self) -> dict[str, str]:
        """``{original hub id: what was loaded instead}`` for every original model this one could not load
        (offline stand-ins); empty when it loaded the originals, or loads no model."""
        return {}

    def get_state(self) -> dict:
        """What :meth:`Neuron.save` keeps of this model: JSON values and numpy arrays (see neuron.state)."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def new_forward(self) -> None:
        """A new openvalidators forward begins; a stack passes it to its filters."""

    def chosen(self, question: str, answer: str) -> None:
        """The loop kept ``question`` and ``answer`` as the best of one follow-up/answer pair (see filters)."""

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        """The score of every row (float64; NaN where a row could not be scored).

        Default: each distinct prompt, in order of first appearance, as a one-message user query
        through :meth:`rewards`, with all of its completions.
        """
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        values = np.full(len(prompts), np.nan)
        for prompt, rows in group_rows(prompts).items():
            query = Query(("user",), (prompt,))
            values[rows] = np.asarray(self.rewards(query, [completions[i] for i in rows]).final, dtype=np.float64)
        return values

    def score_pairs(self, prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str]) -> PairScores:
        """Per pair ``(prompt, chosen, rejected)``: loss and end scores. Default: both sides through
        :meth:`score`, read as a Bradley-Terry preference (see :meth:`PairScores.from_scores`)."""
        return PairScores.from_scores(self.score(prompts, chosen), self.score(prompts, rejected))

    def rewards(self, query: Query, completions: list[str]) -> Rewards:
        """The reward of each completion of ``query``. Default: :meth:`score` of ``(query.prompt, completion)``."""
        values = np.asarray(self.score([query.prompt] * len(completions), completions), dtype=np.float64)
        return Rewards(values, {self.raw_name: values})


def group_rows(keys: Sequence[K]) -> dict[K, list[int]]:
    """The row indices of each distinct key (a prompt, a question's row), in order of first appearance."""
    groups: dict[K, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return groups


@contextmanager
def configured(model: RewardModelBase, batch_size: int, max_length: int | None = None) -> Iterator[RewardModelBase]:
    """``model`` scoring ``batch_size`` rows per forward pass, texts cut to ``max_length`` tokens, inside
    the block; its own settings are restored after (a loaded model may be shared, see ``load_reward_model``)."""
    before = model.batch_size, model.max_length
    model.batch_size, model.max_length = batch_size, max_length
    try:
        yield model
    finally:
        model.batch_size, model.max_length = before


@component("reward", summary="uniform random rewards")
class RandomRewardModel(RewardModelBase):
    """Uniform random rewards in [0, 1)."""

    raw_name = "random"

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return self.rng.random(len(completions))


@component("reward", summary="the same reward for every completion")
class ConstantRewardModel(RewardModelBase):
    """The same reward (``value``) for every completion."""

    raw_name = "constant"
    stateless = True

    def __init__(self, seed: int = 0, value: float = 1.0) -> None:
        super().__init__(seed)
        self.value = value

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> np.ndarray:
        return np.full(len(completions), self.value, dtype=np.float64)
