"""One verdict record for every judging step, the vocabulary each judge speaks, and the stored ``verdicts`` table.

A judging step (the Tournament, the RewardHackSearch, the analysis) turns its figures into
:class:`Verdict` records and stores them with :func:`to_table`: one row per record, the columns
:data:`COLUMNS` first, then one column per named figure of the evidence. The report reads any
step's ``verdicts`` table back with :func:`from_table` and styles each verdict by its :func:`tone`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

Figure = float | int | str | bool
Tone = Literal["alarm", "caution", "quiet", "broken", "good", "notable"]
COLUMNS = ("subject", "verdict", "sentence", "estimate", "ci_low", "ci_high", "level")


@dataclass(frozen=True)
class Interval:
    """A confidence interval: ``level`` is the share of the sampling distribution it holds (0.95)."""

    low: float = math.nan
    high: float = math.nan
    level: float = math.nan


@dataclass(frozen=True)
class Verdict:
    """What a judge concluded about one subject (a strategy, a transform chain, a predicted target).

    ``estimate`` is the figure the verdict rests on (a weight ratio, a reward gain, a cross-validated
    score) and ``interval`` its confidence interval; ``evidence`` holds the other figures a reader may
    check, by name (they become columns of the ``verdicts`` table, so no name may be one of :data:`COLUMNS`).
    """

    subject: str
    verdict: str
    sentence: str
    estimate: float = math.nan
    interval: Interval = Interval()
    evidence: Mapping[str, Figure] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clashes = [name for name in self.evidence if name in COLUMNS]
        if clashes:
            raise ValueError(f"evidence may not be named {', '.join(clashes)}: the verdicts table has such columns")


@dataclass(frozen=True)
class Vocabulary:
    """The verdicts one judge gives, in the order a reader should meet them, each with the tone it reads in."""

    judge: str
    tones: Mapping[str, Tone]

    @property
    def verdicts(self) -> tuple[str, ...]:
        return tuple(self.tones)


TOURNAMENT = Vocabulary("Tournament", {"exploit": "alarm", "neutral": "quiet", "penalized": "caution",
                                       "failed": "broken", "inconclusive": "broken", "weight_leak": "caution"})
HACK_SEARCH = Vocabulary("RewardHackSearch", {"exploit": "alarm", "improvement": "good", "neutral": "quiet",
                                              "penalized": "caution"})
ANALYSIS = Vocabulary("analysis", {"length": "caution", "beyond_length": "notable", "weak": "quiet",
                                   "unpredictable": "quiet"})
NETWORK = Vocabulary("Network", {"exploit": "alarm", "neutral": "quiet", "penalized": "caution",
                                 "failed": "broken", "inconclusive": "broken", "weight_leak": "caution"})
VOCABULARIES = (TOURNAMENT, HACK_SEARCH, ANALYSIS, NETWORK)


def tone(verdict: str) -> Tone | None:
    """How ``verdict`` reads in any judge's vocabulary (a word means the same to every judge); None if no
    judge uses it."""
    for vocabulary in VOCABULARIES:
        if verdict in vocabulary.tones:
            return vocabulary.tones[verdict]
    return None


def to_table(records: Sequence[Verdict], vocabulary: Vocabulary, evidence: Sequence[str] = ()) -> pd.DataFrame:
    """The stored ``verdicts`` table: :data:`COLUMNS`, then the evidence columns in ``evidence`` order
    (default: the first record's). Every record's verdict must be in ``vocabulary`` and every record
    must name the same figures, so the table's columns do not depend on which verdicts were given."""
    import pandas as pd

    names = list(evidence) if evidence else list(records[0].evidence) if records else []
    for record in records:
        if record.verdict not in vocabulary.tones:
            raise ValueError(f"'{record.verdict}' is not a verdict of the {vocabulary.judge}; its verdicts are "
                             f"{', '.join(vocabulary.verdicts)}")
        if set(record.evidence) != set(names):
            raise ValueError(f"the verdict on '{record.subject}' names the figures {', '.join(record.evidence)}; "
                             f"the table's are {', '.join(names)}")
    rows = [{"subject": r.subject, "verdict": r.verdict, "sentence": r.sentence, "estimate": r.estimate,
             "ci_low": r.interval.low, "ci_high": r.interval.high, "level": r.interval.level,
             **{name: r.evidence[name] for name in names}} for r in records]
    return pd.DataFrame(rows, columns=[*COLUMNS, *names])


def from_table(frame: pd.DataFrame) -> list[Verdict]:
    """The records of a ``verdicts`` table. Columns it lacks read as empty (a user's step may store only
    subject, verdict and sentence); columns besides :data:`COLUMNS` are the evidence."""
    import numpy as np

    names = [c for c in frame.columns if c not in COLUMNS]
    records = []
    for row in frame.to_dict("records"):
        records.append(Verdict(
            _text(row.get("subject")), _text(row.get("verdict")), _text(row.get("sentence")),
            _number(row.get("estimate")),
            Interval(_number(row.get("ci_low")), _number(row.get("ci_high")), _number(row.get("level"))),
            {str(name): _plain(row[name], np.generic) for name in names}))
    return records


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _plain(value: object, scalar: type) -> Figure:
    """A cell as a Python value: numpy scalars (``scalar``) unwrapped, anything else kept."""
    return value.item() if isinstance(value, scalar) else value  # type: ignore[return-value,attr-defined]
