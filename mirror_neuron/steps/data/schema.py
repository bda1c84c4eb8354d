"""Mapping source records to the canonical columns, and splitting HH-RLHF dialogues."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Canonical = Literal["question", "answer", "context", "prompt", "chosen", "rejected"]

ASSISTANT_TURN = "\n\nAssistant:"


class FieldSpec(BaseModel):
    """Where a canonical column comes from.

    ``field`` is a dotted path into the record (``answers.text``). When it holds a list,
    ``take`` keeps the ``first`` element, ``all`` of them, or ``join``s them (nulls left out) with
    ``sep``; an empty list is ``None`` for ``first`` and ``join``.
    """

    model_config = ConfigDict(extra="forbid")

    field: str
    take: Literal["first", "all", "join"] = "first"
    sep: str = "\n"


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING = _Missing()


def lookup(record: Any, dotted: str) -> Any:
    """Follow ``a.b.c`` through nested mappings (and across lists of mappings)."""
    current = record
    for part in dotted.split("."):
        if isinstance(current, dict):
            current = current.get(part, MISSING)
        elif isinstance(current, list):
            items = [item for item in current if isinstance(item, dict)]
            if current and not any(part in item for item in items):
                return MISSING  # a misspelt key inside a list must not read as a list of nulls
            current = [item.get(part) for item in items]
        else:
            return MISSING
        if current is MISSING:
            return MISSING
    return current


def extract(record: dict[str, Any], spec: FieldSpec) -> Any:
    """The value of one canonical column for ``record`` (``MISSING`` if the field is absent)."""
    value = lookup(record, spec.field)
    if value is MISSING or not isinstance(value, (list, tuple)):
        if spec.take == "all" and value is not MISSING and value is not None:
            return [value]
        return value
    if spec.take == "first":
        return value[0] if value else None
    if spec.take == "all":
        return list(value)
    items = [str(item) for item in value if item is not None]
    return spec.sep.join(items) if items else None  # like ``first``: an empty list is no value


def split_dialogue(text: str) -> tuple[str, str]:
    """Split an HH-RLHF dialogue into (prompt up to the final ``Assistant:``, final answer).

    ``prompt + answer == text``, as in the rm-static format the Dahoas reward models were trained on.
    A dialogue with no Assistant turn is all prompt.
    """
    cut = text.rfind(ASSISTANT_TURN)
    if cut < 0:
        return text, ""
    cut += len(ASSISTANT_TURN)
    return text[:cut], text[cut:]


def to_canonical_hh(row: dict[str, Any]) -> dict[str, Any]:
    """Replace full ``chosen``/``rejected`` dialogues by ``prompt`` and the two final answers."""
    prompt, chosen = split_dialogue(row.get("chosen") or "")
    _, rejected = split_dialogue(row.get("rejected") or "")
    return {**row, "prompt": prompt, "chosen": chosen, "rejected": rejected}
