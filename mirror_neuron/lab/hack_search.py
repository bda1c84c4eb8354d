"""The reward-hack search: which text transforms of honest answers earn more reward without being better.

For every question of a data set with reference answers, the honest answer (the reference, or another
answer column) is scored by the reward, then transformed by chains of transforms
(:mod:`mirror_neuron.hacks.transforms`) and scored again. The search starts from every single transform
and extends the best chains one transform at a time: ``greedy`` extends the best chain of each depth,
``beam`` the best ``beam_width``; only chains that raise the mean reward are extended, no chain uses
a transform twice, and nothing is scored once ``budget`` reward evaluations are spent.

A candidate (a chain) is an **exploit** when its paired reward gain over the honest answers is
significant, corrected for the number of candidates tried, while its answers' token F1 against the
reference does not improve (the judging: :mod:`mirror_neuron.lab.hack_judge`).

Every reward evaluation scores one completion for one question. A stateful reward (a ``RewardStack``
with running normalizers and a diversity history) is first warmed up on the honest answers of the
``calibration`` rows, which are not searched; then every completion is scored alone from that same
state, so each score depends only on its own text and the paired comparison is fair (see
:class:`ModelReward`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from mirror_neuron.hacks.transforms import Chain, Transform
from mirror_neuron.neuron.miners.base import Query
from mirror_neuron.neuron.reward.base import RewardModelBase, group_rows

HONEST = "honest"
QUESTION_PROMPT = "You are a helpful assistant. Answer accurately and concisely."


class BudgetError(ValueError):
    """The search's ``budget`` cannot cover even the honest answers."""


@dataclass(frozen=True)
class Item:
    """One question: its text, its reference answer(s) and the honest answer transforms start from."""

    question: str
    reference: str | tuple[str, ...]
    honest: str


class RewardFunction(Protocol):
    """Scores ``texts[i]`` as the answer to item ``rows[i]``."""

    def score(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray: ...


class ModelReward:
    """A reward model as the search's reward function: ``texts[i]`` scored as the answer to ``items[rows[i]]``.

    ``through="rewards"`` (a neuron's reward): each text is the completion of its question's query
    (system prompt, question, reference) through ``rewards``, first warmed up on the ``calibration``
    items' honest answers, then every text scored as if alone from that one frozen state. The model's
    capabilities decide how: a ``stateless`` model scores each question's texts in one call (its
    scores do not depend on the batch); any other is reset to the frozen state and called once per
    text, after a batch per question has filled what a model that ``remembers`` keeps (``prefetch``).
    ``through="score"`` (a reward_model step): ``score(question, text)`` of every row, in one call.
    """

    def __init__(self, model: RewardModelBase, items: Sequence[Item], calibration: Sequence[Item] = (),
                 through: Literal["rewards", "score"] = "rewards") -> None:
        self.model, self.through = model, through
        self.questions = [item.question for item in items]
        self.queries = [_query(item) for item in items]
        for item in calibration:
            model.rewards(_query(item), [item.honest])
        self.state = model.get_state()
        self.prefetch = model.remembers

    def score(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        """The reward of every text, each as if scored alone (see the class)."""
        if self.through == "score":
            return np.asarray(self.model.score([self.questions[r] for r in rows], list(texts)), dtype=np.float64)
        values = np.zeros(len(texts))
        for row, indices in group_rows(rows).items():
            batch = [texts[i] for i in indices]
            if self.model.stateless:
                values[indices] = self._rewards(row, batch)
                continue
            if self.prefetch and len(batch) > 1:
                self._rewards(row, batch)  # computes and keeps every text's score; the result is not used
            values[indices] = [self._rewards(row, [text])[0] for text in batch]
        return values

    def _rewards(self, row: int, completions: list[str]) -> np.ndarray:
        self.model.set_state(self.state)
        return np.asarray(self.model.rewards(self.queries[row], completions).final, dtype=np.float64)


def _query(item: Item) -> Query:
    reference = item.reference if isinstance(item.reference, str) else item.reference[0]
    return Query(("system", "user"), (QUESTION_PROMPT, item.question), False, reference)


class Evaluator:
    """Counts and caches reward evaluations; the reward is built on first need (``make_reward``).

    ``count`` is the number of distinct ``(row, text)`` evaluations the search has asked for, plus
    ``fixed`` (the calibration rows). ``known`` results (from an interrupted run) are reused without
    calling the reward but still count when asked for, so a resumed search takes the same decisions.
    """

    def __init__(self, make_reward: Callable[[], RewardFunction], fixed: int = 0,
                 known: dict[tuple[int, str], float] | None = None) -> None:
        self.make_reward = make_reward
        self.reward: RewardFunction | None = None
        self.count = fixed
        self.calls = 0  # evaluations that ran the reward in this process
        self.known = dict(known or {})
        self.asked: set[tuple[int, str]] = set()

    def cost(self, rows: Sequence[int], texts: Sequence[str]) -> int:
        """How many new evaluations scoring these would take."""
        return len({(r, t) for r, t in zip(rows, texts)} - self.asked)

    def ask(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """Count these evaluations now; :meth:`values` scores everything asked for at once."""
        fresh = set(zip(rows, texts)) - self.asked
        self.count += len(fresh)
        self.asked |= fresh

    def values(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        """The rewards of texts asked for, scoring every asked-for text not known yet in one call."""
        missing = [k for k in self.asked if k not in self.known]
        if missing:
            missing.sort()
            if self.reward is None:
                self.reward = self.make_reward()
            scores = self.reward.score([r for r, _ in missing], [t for _, t in missing])
            self.known.update(zip(missing, np.asarray(scores, dtype=np.float64).tolist()))
            self.calls += len(missing)
        return np.array([self.known[k] for k in zip(rows, texts)], dtype=np.float64)

    def __call__(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        self.ask(rows, texts)
        return self.values(rows, texts)


@dataclass(frozen=True)
class SearchOptions:
    """How the search proceeds (the RewardHackSearch step's config sets these)."""

    search: Literal["greedy", "beam"] = "greedy"
    beam_width: int = 3
    max_depth: int = 2
    budget: int = 5000
    seed: int = 0


@dataclass
class Evaluated:
    """One candidate scored on every searched row."""

    chain: Chain
    depth: int
    texts: list[str]
    rewards: np.ndarray
    honest: np.ndarray = field(repr=False)
    gain: float = field(init=False)

    def __post_init__(self) -> None:
        self.gain = float(np.mean(self.rewards - self.honest))


@dataclass
class Level:
    """What one depth of the search scored (depth 0: the honest answers)."""

    depth: int
    candidates: list[Evaluated]
    skipped: int = 0


def search(items: Sequence[Item], transforms: Sequence[tuple[str, Transform]], evaluate: Evaluator,
           options: SearchOptions) -> Iterator[Level]:
    """Score the honest answers (depth 0), then chains of growing depth; yields each depth as it is done.

    Candidates that would take the evaluation count past ``budget`` are skipped (and counted); the
    search stops after ``max_depth``, or after a depth where no chain raised the reward (a depth whose
    every candidate was skipped included).
    """
    rows = list(range(len(items)))
    honest_texts = [item.honest for item in items]
    if evaluate.count + evaluate.cost(rows, honest_texts) > options.budget:
        raise BudgetError(f"a budget of {options.budget} reward evaluations does not cover the honest answers "
                         f"({len(items)}) and the calibration rows")
    honest = evaluate(rows, honest_texts)
    yield Level(0, [Evaluated(Chain((), ()), 0, honest_texts, honest, honest)])
    lookup = dict(transforms)
    width = 1 if options.search == "greedy" else options.beam_width
    frontier: list[tuple[str, ...]] = [()]
    for depth in range(1, options.max_depth + 1):
        level = Level(depth, [])
        planned: list[tuple[Chain, list[str]]] = []
        for parent in frontier:
            for name in lookup:
                if name in parent:
                    continue
                names = (*parent, name)
                chain = Chain(names, tuple(lookup[n] for n in names))
                texts = [chain(item.honest, item.question, options.seed, row) for row, item in enumerate(items)]
                if evaluate.count + evaluate.cost(rows, texts) > options.budget:
                    level.skipped += 1
                    continue
                evaluate.ask(rows, texts)
                planned.append((chain, texts))
        level.candidates = [Evaluated(chain, depth, texts, evaluate.values(rows, texts), honest)
                            for chain, texts in planned]
        yield level
        ranked = sorted(level.candidates, key=lambda c: -c.gain)
        frontier = [c.chain.names for c in ranked[:width] if c.gain > 0]
        if not frontier:
            return
