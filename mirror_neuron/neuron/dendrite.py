"""``DummyDendritePool``: every uid plays a miner behaviour, in simulated time.

A call returns the completion, a return code and the elapsed time. Latency is drawn per call from
the uid's behaviour (log-normal, in simulated seconds, nothing sleeps), unless the behaviour gives the
call's own (a replayed log's); a call slower than the timeout returns no completion. A remote behaviour
(a real server, see :mod:`~mirror_neuron.neuron.miners.endpoint`) is called for real: its calls of a
pass start first, together, and their real elapsed times go through the same rules. Faults a miner
causes (exceptions, ``None``, non-text, a malformed reply, invalid unicode, huge completions) become
return codes or sanitized text, never errors of the pool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mirror_neuron.neuron.miners.base import (
    CAUGHT,
    Behaviour,
    InvalidResponse,
    Query,
    Reference,
    TimedAnswer,
    call_failure,
)
from mirror_neuron.registry import component

SUCCESS = 1
TIMEOUT = 2
EMPTY_RESPONSE = 7
INVALID_RESPONSE = 8
UNKNOWN_EXCEPTION = 21
MAX_COMPLETION_CHARS = 100_000
Started = Callable[[], list[TimedAnswer]] | BaseException  # a remote group's calls under way, or why they are not


@dataclass(frozen=True)
class Call:
    """One uid's answer to one query."""

    uid: int
    completion: str
    return_code: int
    elapsed: float
    error: str = ""

    @property
    def is_success(self) -> bool:
        return self.return_code == SUCCESS


@dataclass
class StrategyHealth:
    """How a strategy's own code fared: calls that reached it (in time), how many raised, the first error."""

    calls: int = 0
    raised: int = 0
    first_error: str = ""


@component("dendrite",
           summary="the original's dummy dendrite pool: every uid plays a miner behaviour, in simulated time")
class DummyDendritePool:
    """Queries simulated miners: ``behaviours[uid]`` answers for ``uid``."""

    def __init__(self, behaviours: list[Behaviour], seed: int = 0,
                 max_completion_chars: int = MAX_COMPLETION_CHARS) -> None:
        self.behaviours = behaviours
        self.rng = np.random.default_rng(seed)
        self.max_completion_chars = max_completion_chars
        self.references: dict[str, Reference] = {}
        self._answers: tuple[str, ...] = ()  # every learned answer, once: the others a miner may mix up
        self._log_median = np.log([b.latency_median for b in behaviours])
        self._sigma = np.array([b.latency_sigma for b in behaviours])
        self.health: dict[str, StrategyHealth] = {}  # by behaviour name

    def learn(self, prompts: Sequence[str], answers: Sequence[str | Reference | None]) -> None:
        """Give the miners what a data set knows of its prompts (what an honest miner would know): per
        prompt, its reference answer or a :class:`Reference` (answer, passage, HH-RLHF responses)."""
        for prompt, known in zip(prompts, answers):
            known = Reference(answer=known) if isinstance(known, str) else known
            if known:
                self.references[prompt] = known
        self._answers = tuple(dict.fromkeys(r.answer for r in self.references.values() if r.answer))

    def __call__(self, roles: list[str], messages: list[str], uids: np.ndarray, timeout: float,
                 question: bool = False, name: str = "") -> list[Call]:
        """One call per uid; ``question`` and ``name`` (the step kind) tell the miners what is asked."""
        query = Query(tuple(roles), tuple(messages), question, name=name)
        known = self.references.get(query.prompt)
        if known is not None:
            query = dataclasses.replace(query, reference=known.answer, context=known.context, chosen=known.chosen,
                                        rejected=known.rejected, others=self._answers)
        uids = np.asarray(uids, dtype=int)
        drawn = np.exp(self._log_median[uids] + self._sigma[uids] * self.rng.standard_normal(len(uids)))
        own = [self.behaviours[uid].elapsed(query, int(uid)) for uid in uids]  # a replayed miner's logged time
        elapsed = [float(seconds if given is None else given) for seconds, given in zip(drawn, own)]
        return self._calls(query, [int(uid) for uid in uids], elapsed, timeout)

    def _calls(self, query: Query, uids: list[int], elapsed: list[float], timeout: float) -> list[Call]:
        """The calls of ``uids`` in order. A remote behaviour's calls are started first, all its uids at once.
        A behaviour that answers many uids at once (it overrides ``respond_many``) gets all its in-time uids
        of this call together, when the first of them is reached; the others answer one uid at a time in the
        order of ``uids``, so they draw from ``self.rng`` as before."""
        started = self._start_remote(query, uids, timeout)
        remote = {i for positions, _ in started for i in positions}
        in_time = [i for i, seconds in enumerate(elapsed) if seconds <= timeout and i not in remote]
        answers: dict[int, str | None | BaseException] = {}
        for i in in_time:
            if i in answers:
                continue
            behaviour = self.behaviours[uids[i]]
            batches = type(behaviour).respond_many is not Behaviour.respond_many
            group = [j for j in in_time if self.behaviours[uids[j]] is behaviour] if batches else [i]
            answers.update(zip(group, self._answer(behaviour, query, [uids[j] for j in group])))
        for positions, wait in started:
            for i, timed in zip(positions, self._wait(wait, len(positions))):
                answers[i], elapsed[i] = timed.answer, timed.elapsed
                if timed.elapsed <= timeout:
                    in_time.append(i)
        self._record_health([self.behaviours[uids[i]] for i in in_time], [answers[i] for i in in_time])
        return [self._call(uid, answers.get(i), seconds, timeout)
                for i, (uid, seconds) in enumerate(zip(uids, elapsed))]

    def _start_remote(self, query: Query, uids: list[int], timeout: float) -> list[tuple[list[int], Started]]:
        """Start every remote behaviour's calls of this pass: its positions in ``uids``, and the function that
        waits for them (or the error that kept them from starting)."""
        groups: dict[int, list[int]] = {}
        for i, uid in enumerate(uids):
            if self.behaviours[uid].remote:
                groups.setdefault(id(self.behaviours[uid]), []).append(i)
        started: list[tuple[list[int], Started]] = []
        for positions in groups.values():
            behaviour = self.behaviours[uids[positions[0]]]
            try:
                started.append((positions, behaviour.start_calls(query, [uids[i] for i in positions], timeout)))
            except CAUGHT as error:
                started.append((positions, call_failure(error)))
        return started

    @staticmethod
    def _wait(started: Started, count: int) -> list[TimedAnswer]:
        """A remote group's answers; a group that failed as a whole fails each of its calls, at once."""
        if not isinstance(started, BaseException):
            try:
                return started()
            except CAUGHT as error:
                started = call_failure(error)
        return [TimedAnswer(started, 0.0)] * count

    def _answer(self, behaviour: Behaviour, query: Query, uids: list[int]) -> list[str | None | BaseException]:
        """``behaviour``'s answers for ``uids``; a batch that fails as a whole fails each of its calls."""
        try:
            answers = behaviour.respond_many(query, uids, self.rng)
        except CAUGHT as error:
            return [call_failure(error)] * len(uids)
        if not isinstance(answers, list) or len(answers) != len(uids):
            count = len(answers) if isinstance(answers, list) else type(answers).__name__
            return [ValueError(f"respond_many gave {count} answers for {len(uids)} uids")] * len(uids)
        return answers

    def _record_health(self, behaviours: list[Behaviour], answers: list[str | None | BaseException]) -> None:
        for behaviour, answer in zip(behaviours, answers):
            if behaviour.fails_on_purpose:
                continue
            name = getattr(behaviour, "name", type(behaviour).__name__)  # a class built in code may have none
            health = self.health.setdefault(name, StrategyHealth())
            health.calls += 1
            if isinstance(answer, BaseException):
                health.raised += 1
                health.first_error = health.first_error or _error_text(answer)

    def check_strategies(self) -> None:
        """Stop the run when a strategy's code raised on every call that reached it so far: a broken miner
        (a bug, a missing file) measures nothing, and its uids would silently earn no weight. A
        :class:`~mirror_neuron.neuron.population.MinerError` names the strategy and its first error."""
        from mirror_neuron.neuron.population import MinerError

        for name, health in self.health.items():
            if health.calls and health.raised == health.calls:
                raise MinerError(name, f"every call of miner '{name}' raised ({health.calls} of {health.calls}; "
                                       f"the first: {health.first_error}); fix its code or leave it out")

    def _call(self, uid: int, completion: object, elapsed: float, timeout: float) -> Call:
        """One call from its answer: a timeout, a fault mapped to its return code, or sanitized text."""
        if elapsed > timeout:
            return Call(uid, "", TIMEOUT, timeout)
        if isinstance(completion, InvalidResponse):
            return Call(uid, "", INVALID_RESPONSE, elapsed, _error_text(completion))
        if isinstance(completion, BaseException):
            return Call(uid, "", UNKNOWN_EXCEPTION, elapsed, _error_text(completion))
        if completion is None:
            return Call(uid, "", EMPTY_RESPONSE, elapsed, "no completion")
        if not isinstance(completion, str):
            return Call(uid, "", INVALID_RESPONSE, elapsed, f"completion of type {type(completion).__name__}")
        completion = completion[: self.max_completion_chars]
        if not completion.isascii():  # lone surrogates cannot be stored: replace them
            completion = completion.encode("utf-8", "replace").decode("utf-8")
        return Call(uid, completion, SUCCESS if completion else EMPTY_RESPONSE, elapsed)


def _error_text(error: BaseException) -> str:
    """``Type: message``, on one line, cut to 200 characters."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__
