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
state, so each score depends only on its own text and the paired comparison is fair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from mirror_neuron.hacks.transforms import Chain, Transform

HONEST = "honest"
QUESTION_PROMPT = "You are a helpful assistant. Answer accurately and concisely."


@dataclass(frozen=True)
class Item:
    """One question: its text, its reference answer(s) and the honest answer transforms start from."""

    question: str
    reference: str | tuple[str, ...]
    honest: str


class RewardFunction(Protocol):
    """Scores ``texts[i]`` as the answer to item ``rows[i]``."""

    def score(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray: ...


class NeuronReward:
    """A neuron reward model (``rewards(query, completions)``), warmed up, then scoring from one frozen state."""

    def __init__(self, model: Any, items: Sequence[Item], calibration: Sequence[Item] = ()) -> None:
        from mirror_neuron.neuron.miners.base import Query

        def query(item: Item) -> Query:
            reference = item.reference if isinstance(item.reference, str) else item.reference[0]
            return Query(("system", "user"), (QUESTION_PROMPT, item.question), False, reference)

        self.model = model
        self.queries = [query(item) for item in items]
        for item in calibration:
            model.rewards(query(item), [item.honest])
        self.state = model.get_state()
        self.prefetch = True  # until a batch shows that no scorer remembers its scores

    def score(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        """Each text scored alone, from the state after calibration.

        Language-model scorers remember every (prompt, completion) they scored
        (:mod:`mirror_neuron.neuron.reward.memo`), so the texts of each question are first run through
        the reward as one batch, which computes their scores together; the single calls that follow
        find them there. The batch's own result is thrown away. When a batch leaves nothing
        remembered, the reward has no such scorer and no more batches are run.
        """
        if self.prefetch:
            self._prefetch(rows, texts)
        values = []
        for row, text in zip(rows, texts):
            self.model.set_state(self.state)
            values.append(float(np.asarray(self.model.rewards(self.queries[row], [text]).final, dtype=float)[0]))
        return np.asarray(values, dtype=np.float64)

    def _prefetch(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        from mirror_neuron.neuron.reward.memo import MEMO

        by_row: dict[int, list[str]] = {}
        for row, text in zip(rows, texts):
            by_row.setdefault(row, []).append(text)
        for row, batch in by_row.items():
            if len(batch) < 2:
                continue
            remembered = len(MEMO.values)
            self.model.set_state(self.state)
            self.model.rewards(self.queries[row], batch)
            if len(MEMO.values) == remembered:
                self.prefetch = False
                return


class ScorerReward:
    """A stateless reward-model step's scorer (``score(prompts, completions)``), scored in batches."""

    def __init__(self, scorer: Any, items: Sequence[Item]) -> None:
        self.scorer = scorer
        self.prompts = [item.question for item in items]

    def score(self, rows: Sequence[int], texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.scorer.score([self.prompts[r] for r in rows], list(texts)), dtype=np.float64)


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
        raise ValueError(f"a budget of {options.budget} reward evaluations does not cover the honest answers "
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
