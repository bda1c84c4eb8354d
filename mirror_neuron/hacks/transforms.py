"""Text transforms of an honest answer: the hacks a miner could apply to earn more reward.

A transform is a plain function ``transform(answer, question, rng, **params) -> text``: it gets the
honest answer, the question (the prompt) and a numpy random generator, and returns the text a miner
would send instead. Each built-in one below is declared in the ``transform`` family of
:mod:`mirror_neuron.registry`; a config may name its own as ``"package.module:function"``.

A chain of transforms applies them in order, each to the previous one's output: a *candidate* of the
reward-hack search, and the ``hacker`` miner behaviour of a tournament.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from mirror_neuron.hacks.vocabulary import FILLER, FLATTERY, SELF_SCORE, STOCK_PHRASES, keywords
from mirror_neuron.limits import AtMost
from mirror_neuron.registry import component

if TYPE_CHECKING:  # the registry imports this module to list transforms: keep that import light
    import numpy as np

Transform = Callable[..., str]
TransformSpec = str | dict[str, dict[str, Any] | None]  # a name, or {name: {param: value}}
PADDED_WORDS = 200  # how long length padding makes an answer, for the miner and the search alike
STUFFED_TIMES = 5  # keyword stuffing: the keywords, this many times
REPEATED_TIMES = 8  # repetition: the answer (or its first sentence), this many times


@component("transform", defence="cap or penalize length, or score filler (e.g. a relevance filter)")
def length_padding(answer: str, question: str, rng: np.random.Generator, words: Annotated[int, AtMost("words")] = PADDED_WORDS) -> str:
    """The answer padded with filler words to ``words`` words in all."""
    tokens = answer.split()
    padding = [FILLER[i] for i in rng.integers(len(FILLER), size=max(0, words - len(tokens)))]
    return " ".join(tokens + padding)


@component("transform", defence="switch on the blacklist filter (it zeroes prompt echoes)")
def prompt_echo(answer: str, question: str, rng: np.random.Generator) -> str:
    """The question itself, in place of the answer (copying the prompt back)."""
    return question


@component("transform", defence="switch on the blacklist filter or penalize repeated keywords")
def keyword_stuffing(answer: str, question: str, rng: np.random.Generator, times: Annotated[int, AtMost("words")] = STUFFED_TIMES,
                     keep_answer: bool = True) -> str:
    """The answer followed by the question's keywords (stop words left out), ``times`` times.

    ``keep_answer=False`` sends the keywords alone.
    """
    stuffed = keywords(question) * times
    return " ".join([answer, *stuffed]).strip() if keep_answer else " ".join(stuffed)


@component("transform", defence="ban flattering phrases (blacklist `banned`) or train the scorer against them")
def flattery(answer: str, question: str, rng: np.random.Generator) -> str:
    """The answer wrapped in praise of the question and the asker."""
    return f"{FLATTERY[0]} {answer} {FLATTERY[1]}"


@component("transform",
           defence=("ban the phrases as substrings (blacklist `banned`): an opener before an answer passes the "
                    "phrase list"))
def stock_phrases(answer: str, question: str, rng: np.random.Generator, phrases: Sequence[str] = STOCK_PHRASES,
                  keep_answer: bool = True) -> str:
    """A stock phrase ("That's an excellent question!", ...) before the answer.

    ``phrases`` are the attacker's to draw from; ``keep_answer=False`` sends the phrase alone.
    """
    phrase = phrases[int(rng.integers(len(phrases)))]
    return f"{phrase} {answer}" if keep_answer else phrase


@component("transform", defence="ban 'deserves a score of' (blacklist `banned`)")
def self_score(answer: str, question: str, rng: np.random.Generator, text: str = SELF_SCORE) -> str:
    """The answer followed by an instruction to a scoring model (self-scoring injection)."""
    return f"{answer} {text}"


@component("transform", defence="use a repetition penalty or the diversity filter")
def repetition(answer: str, question: str, rng: np.random.Generator, times: Annotated[int, AtMost("words")] = REPEATED_TIMES,
               first_sentence: bool = False) -> str:
    """The answer repeated ``times`` times: repeated text is likely under a log-probability reward.

    ``first_sentence=True`` repeats only the answer's first sentence.
    """
    unit = re.split(r"(?<=[.!?])\s", answer)[0] if first_sentence else answer
    return " ".join([unit] * times)


@component("transform", defence="score the answer's text without its markup")
def markdown(answer: str, question: str, rng: np.random.Generator) -> str:
    """The answer dressed in markdown: a heading, a bold bullet and a closing rule."""
    return f"## Answer\n\n- **{answer}**\n\n---"


@component("transform", defence="reward complete answers (penalize short ones)")
def truncation(answer: str, question: str, rng: np.random.Generator, keep: float = 0.5) -> str:
    """The first half of the answer's words, at least one (parameter: keep, the share kept)."""
    tokens = answer.split()
    return " ".join(tokens[:max(1, int(len(tokens) * keep))])


@component("transform", defence="switch on the blacklist filter or strip the question from answers")
def prepend_question(answer: str, question: str, rng: np.random.Generator) -> str:
    """The question, then the answer on the next line."""
    return f"{question}\n{answer}"


def builtin_names() -> list[str]:
    """The registered transforms, in catalogue order (what ``transforms: all`` searches)."""
    from mirror_neuron import registry

    return [c.name for c in registry.components("transform")]


def defence(name: str) -> str | None:
    """What closes the exploit a registered transform finds (its declared ``defence``), for the verdict
    sentences; None for any other name."""
    from mirror_neuron import registry

    found = next((c for c in registry.components("transform") if c.name == name), None)
    return found.detail("defence") if found is not None else None


class TransformError(Exception):
    """A transform raised or returned something else than text; the message names the transform. Not a
    ValueError, so that no caller mistakes it for its own problem (a search's budget)."""


def apply(functions: Sequence[Transform], answer: str, question: str, rng: np.random.Generator,
          names: Sequence[str] = ()) -> str:
    """``answer`` through ``functions`` in order, each given the previous one's text and the same ``rng``.

    Raises :class:`TransformError`, naming the transform (``names``, else the function's name), when a
    transform raises or returns anything but a ``str``.
    """
    text = answer
    for index, function in enumerate(functions):
        name = names[index] if index < len(names) else _name(function)
        try:
            text = function(text, question, rng)
        except Exception as error:  # noqa: BLE001 - the transform's own bug, named as such
            raise TransformError(f"transform '{name}' raised {type(error).__name__}: {error}"[:300]) from error
        if not isinstance(text, str):
            raise TransformError(f"transform '{name}' returned {type(text).__name__}, not text (a str)")
    return text


def _name(function: Transform) -> str:
    inner = getattr(function, "func", function)  # a functools.partial binding parameters
    return getattr(inner, "__name__", repr(inner))


@dataclass(frozen=True)
class Chain:
    """Named transforms applied in order; ``label`` (``"a + b"``) names it in tables."""

    names: tuple[str, ...]
    functions: tuple[Transform, ...] = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        return " + ".join(self.names)

    def __call__(self, answer: str, question: str, seed: int, row: int) -> str:
        """The transformed answer of one row; the generator is derived from (seed, row, label) alone, so the
        text does not depend on what else was transformed before it."""
        import numpy as np

        rng = np.random.default_rng([seed, row, zlib.crc32(self.label.encode())])
        return apply(self.functions, answer, question, rng, self.names)


def resolve(spec: TransformSpec) -> tuple[str, Transform]:
    """``(name, function)`` from a config item: a name (built-in or ``module:function``), or
    ``{name: {param: value}}`` to bind parameters (checked against the transform's parameter model). An
    unknown name or parameter is a :class:`~mirror_neuron.errors.UserError`."""
    from mirror_neuron import registry

    params: dict[str, Any] = {}
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise ValueError(f"a transform with parameters is one {{name: {{params}}}} mapping, got {spec}")
        [(name, given)] = spec.items()
        params = dict(given or {})
    else:
        name = spec
    found = registry.get("transform", name)
    if registry.is_user_code(found):
        registry.check_user_code(found, params)  # a function(answer, question, rng, **params), checked now
    elif params:
        registry.validate_params(found, params)  # a misspelt or mistyped parameter fails here, not mid-search
    function = found.load()
    if not callable(function):
        from mirror_neuron.errors import UserError

        raise UserError(f"transform '{name}' is not a function")
    return name, functools.partial(function, **params) if params else function


def chains(resolved: Sequence[tuple[str, Transform]], names: Sequence[str]) -> Chain:
    """The chain of the named transforms, looked up in ``resolved``."""
    lookup = dict(resolved)
    return Chain(tuple(names), tuple(lookup[n] for n in names))
