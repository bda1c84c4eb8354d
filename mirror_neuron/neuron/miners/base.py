"""The miner contract: a query in, a completion (or nothing) out, with a latency distribution."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt

from mirror_neuron import interrupts
from mirror_neuron.errors import UserError

FOLLOW_UP_REQUEST = "Ask one follow-up question."  # what a chat model is told when the validator wants a question


@dataclass(frozen=True)
class Reference:
    """What a data set knows of one prompt: its ``answer``, its passage (``context``), and an HH-RLHF
    pair's ``chosen`` and ``rejected`` responses; None where it has none."""

    answer: str | None = None
    context: str | None = None
    chosen: str | None = None
    rejected: str | None = None

    def __bool__(self) -> bool:
        return any(value for value in (self.answer, self.context, self.chosen, self.rejected))


@dataclass(frozen=True)
class Query:
    """What the validator sends: (role, content) messages, plus what a simulation may know about them.

    ``question`` is true when the validator asks the miners for a question rather than an answer.
    ``reference`` is the data set's reference answer for the last user message, when there is one.
    ``name`` is the step kind the openvalidators loop gives each query (``augment``, ``followup0``..,
    ``answer0``..; empty elsewhere): its task validator and prompt scorer read it. ``base_prompt`` is
    what that loop's filters compare completions with from 1.1.8 on (None: the prompt).
    What else the data set knows of the prompt, for simulated miners: ``context`` (its passage),
    ``chosen`` and ``rejected`` (an HH-RLHF pair's two responses), and ``others`` (the references of the
    data's other prompts, which a confused miner mixes up).
    """

    roles: tuple[str, ...]
    messages: tuple[str, ...]
    question: bool = False
    reference: str | None = None
    name: str = ""
    base_prompt: str | None = None
    context: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    others: tuple[str, ...] = ()

    @functools.cached_property
    def prompt(self) -> str:
        """The last user message (the question being asked)."""
        for role, message in zip(reversed(self.roles), reversed(self.messages)):
            if role == "user":
                return message
        return self.messages[-1] if self.messages else ""

    @property
    def filter_prompt(self) -> str:
        """What the filters compare completions with: :attr:`base_prompt` when set, else :attr:`prompt`."""
        return self.prompt if self.base_prompt is None else self.base_prompt

    def chat_messages(self) -> list[tuple[str, str]]:
        """The (role, content) messages a chat model is sent: the query's, and a request for a question when
        the validator asks for one."""
        chat = list(zip(self.roles, self.messages))
        return chat + [("user", FOLLOW_UP_REQUEST)] if self.question else chat

    @property
    def text(self) -> str:
        """The unravelled conversation: one ``"{role}: {content}"`` line per message."""
        return "".join(f"{role}: {message}\n" for role, message in zip(self.roles, self.messages))


class InvalidResponse(Exception):
    """A call's answer that holds no completion (a server's malformed reply): the invalid-response return code."""


@dataclass(frozen=True)
class TimedAnswer:
    """A real call's answer (what :meth:`Behaviour.respond` returns, or the exception saying why there is
    none) and the seconds it took; past the validator's timeout it is a timeout, whatever the answer."""

    answer: str | None | BaseException
    elapsed: float


class Behaviour(BaseModel):
    """A miner strategy. Its fields are its parameters (set from the config); unknown ones are errors.

    ``latency_median`` and ``latency_sigma`` give a log-normal latency in simulated seconds, unless
    :meth:`elapsed` gives a call's own. ``backends``: how many machines serve the uids that play it (unset:
    one per uid); a tournament judges a strategy whose uids share fewer backends by its weight per backend,
    against the same backend's on one hotkey (:func:`~mirror_neuron.lab.tournament.one_hotkey_plan`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]  # the registered name, set by its @component declaration (a user class: its config key)
    fails_on_purpose: ClassVar[bool] = False  # raising on every call is its point (else the run stops, see dendrite)
    remote: ClassVar[bool] = False  # it calls a real server, in real time: see start_calls
    latency_median: PositiveFloat = 1.0
    latency_sigma: float = 0.3
    backends: PositiveInt | None = None

    def respond(self, query: Query, uid: int, rng: np.random.Generator) -> str | None:
        """The completion for ``query``; may return ``None`` or raise, as real miners do."""
        raise NotImplementedError

    def elapsed(self, query: Query, uid: int) -> float | None:
        """The call's elapsed time in simulated seconds when the behaviour knows it (a replayed log);
        ``None``: the pool draws it from the log-normal latency."""
        return None

    def respond_many(self, query: Query, uids: list[int], rng: np.random.Generator) -> list[str | None | BaseException]:
        """One answer per uid, in order: what :meth:`respond` returns, or the exception it raised.

        The dendrite pool gives a behaviour that overrides this all its uids of one call at once (a
        language model generates them in one batch); others answer one uid at a time, in the pool's order.
        """
        answers: list[str | None | BaseException] = []
        for uid in uids:
            try:
                answers.append(self.respond(query, uid, rng))
            except CAUGHT as error:
                answers.append(call_failure(error))
        return answers

    def start_calls(self, query: Query, uids: list[int], timeout: float) -> Callable[[], list[TimedAnswer]]:
        """A :attr:`remote` behaviour's real calls for ``uids``, started at once (they run beside the
        pass's other calls); the function returned waits for them and gives each uid's answer in order."""
        raise NotImplementedError


CAUGHT = (Exception, SystemExit, KeyboardInterrupt)  # what a miner's own code may raise on a call


def call_failure(error: BaseException) -> BaseException:
    """What a miner raised, as its call's failure: a crashing miner (even one that calls ``sys.exit`` or
    raises ``KeyboardInterrupt`` itself) is a failed call, not a failed validator. Re-raised instead: the
    user's own Ctrl-C, and a :class:`~mirror_neuron.errors.UserError` (a config problem, such as a miner's
    model that cannot be loaded, which every call would hit)."""
    if isinstance(error, UserError) or (isinstance(error, KeyboardInterrupt) and interrupts.pressed()):
        raise error
    return error
