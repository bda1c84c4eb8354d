"""Upper limits on counts and sizes, checked at validation before anything is built.

A config or file past a limit is refused with one line naming the key (or file) and the limit, so
that a typo such as ``passes: 1000000000`` fails at once instead of filling memory or running for
days. A limit is raised deliberately with the environment variable ``MIRROR_NEURON_LIMITS``, a
comma-separated list of ``name=value`` (``MIRROR_NEURON_LIMITS=uids=50000,passes=100000``); limits
never enter fingerprints, so raising one does not invalidate stored outputs.

Config models bound a count with ``Annotated[PositiveInt, AtMost("uids")]``; other code calls
:func:`check` (or :func:`limit` for the value itself).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from mirror_neuron.errors import UserError, did_you_mean

ENVIRONMENT = "MIRROR_NEURON_LIMITS"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class Limit:
    name: str
    default: int
    bounds: str  # what it bounds, as the README's table says it

    def __str__(self) -> str:
        return _shown(self.name, self.default)


LIMITS: dict[str, Limit] = {limit.name: limit for limit in (
    Limit("uids", 10_000, "uids of a metagraph (miners are counted against it before any is built), validators, "
                          "churn, top-k, `min_allowed_weights`"),
    Limit("passes", 10_000, "passes of a Neuron query over its data"),
    Limit("steps", 1_000_000, "training steps of a Neuron query, steps of a Tournament, follow-ups per forward"),
    Limit("repetitions", 1_000, "repetitions of a Tournament, permutation repeats of an analysis's importances"),
    Limit("points", 10_000, "points of a sweep (its grid, zip and seeds multiplied out)"),
    Limit("resamples", 1_000_000, "bootstrap resamples (Tournament, RewardHackSearch, analysis)"),
    Limit("evaluations", 10_000_000, "reward evaluations of a RewardHackSearch (`budget`)"),
    Limit("words", 100_000, "words, sentences or repeats a miner behaviour or a transform writes into an answer"),
    Limit("tokens", 100_000, "tokens a tokenizer keeps (`max_length`) or a language model generates (`max_new_tokens`)"),
    Limit("config_bytes", 1 * MIB, "size of a config file"),
    Limit("config_nodes", 100_000, "values of a config file or a `--set` value once YAML aliases are expanded"),
    Limit("data_bytes", 1 * GIB, "size of one data file, after decompression (`.gz` is decompressed streaming and stopped at the limit)"),
    Limit("folder_entries", 100_000, "files and folders visited when a data folder is scanned"),
)}


def limit(name: str) -> int:
    """The value of limit ``name``: its default, or what ``MIRROR_NEURON_LIMITS`` sets."""
    return _raised(os.environ.get(ENVIRONMENT, "")).get(name, LIMITS[name].default)


def check(name: str, value: int) -> int:
    """``value`` if it is within limit ``name``; else a ``ValueError`` whose message says how to raise it
    (pydantic turns it into a config error at the key; elsewhere raise a ``UserError`` with :func:`over`)."""
    allowed = limit(name)
    if value > allowed:
        raise ValueError(over(name, value))
    return value


def over(name: str, value: int | None = None) -> str:
    """The sentence for a value past limit ``name`` (``value``: what it was, when known)."""
    got = "" if value is None else f", got {_shown(name, value)}"
    return (f"expected at most {_shown(name, limit(name))} (limit '{name}'){got}; to go past it deliberately, "
            f"set {ENVIRONMENT}={name}=N")


@dataclass(frozen=True)
class AtMost:
    """Pydantic metadata: ``Annotated[PositiveInt, AtMost("uids")]`` is a count within limit ``uids``."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in LIMITS:
            raise KeyError(f"no limit named '{self.name}'")

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(functools.partial(_check_number, self.name),
                                                            handler(source))


def _check_number(name: str, value: Any) -> Any:
    """:func:`check` for an int, or for each int of a tuple or list (``context_sentences: [15, 30]``)."""
    for item in value if isinstance(value, (tuple, list)) else (value,):
        if isinstance(item, int):
            check(name, item)
    return value


@functools.lru_cache(maxsize=8)
def _raised(text: str) -> dict[str, int]:
    """The limits set by ``MIRROR_NEURON_LIMITS``; a malformed setting is a :class:`UserError`."""
    raised: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if name not in LIMITS:
            raise UserError(f"{ENVIRONMENT}: no limit named '{name}'{did_you_mean(name, LIMITS)}; "
                            f"limits: {', '.join(LIMITS)}")
        try:
            number = int(value.strip().replace("_", ""))
        except ValueError:
            number = -1
        if not sep or number <= 0:
            raise UserError(f"{ENVIRONMENT}: expected {name}=N with N a positive whole number, got '{item}'")
        raised[name] = number
    return raised


def _shown(name: str, value: int) -> str:
    return _size(value) if name.endswith("_bytes") else f"{value:,}"


def _size(count: int) -> str:
    """Bytes as a short text: ``1 MiB``, ``1.5 GiB``, ``512 bytes``."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"
