"""``--set dotted.key=value`` overrides, applied to the raw config before validation.

Paths address sections like error messages do: ``data.sample.n`` for a one-entry section,
``query[0].tokenizer.max_length`` or ``query.0....`` by position, ``query.my_query....`` by id.
Values are parsed as YAML scalars or flow collections (``5``, ``true``, ``[a, b]``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from mirror_neuron.errors import UserError

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[\d+\])*")


def apply_overrides(data: Any, assignments: list[str]) -> Any:
    """Return ``data`` with each ``key.path=value`` assignment applied in order."""
    data = data if isinstance(data, dict) else {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {assignment}: expected dotted.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise UserError(f"--set {assignment}: the value is not valid YAML") from None
        _assign(data, _parse_path(key.strip(), assignment), value, assignment)
    return data


def _parse_path(key: str, assignment: str) -> list[str | int]:
    if not _PATH.fullmatch(key):
        raise UserError(f"--set {assignment}: cannot read the key path '{key}'")
    parts: list[str | int] = []
    for match in _PART.finditer(key):
        name, index = match.groups()
        parts.append(int(index) if index is not None else (int(name) if name.isdigit() else name))
    return parts


def _assign(data: dict[str, Any], parts: list[str | int], value: Any, assignment: str) -> None:
    current: Any = data
    for position, part in enumerate(parts[:-1]):
        nxt = parts[position + 1]
        if isinstance(current, list):
            current = _list_item(current, part, assignment)
            continue
        if not isinstance(current, dict):
            raise UserError(f"--set {assignment}: '{part}' is inside a value that is not a mapping")
        if current.get(part) is None:
            current[part] = [] if isinstance(nxt, int) else {}
        current = current[part]
    last = parts[-1]
    if isinstance(current, list):
        if not isinstance(last, int) or last >= len(current):
            raise UserError(f"--set {assignment}: no list item '{last}'")
        current[last] = value
    elif isinstance(current, dict):
        current[last] = value
    else:
        raise UserError(f"--set {assignment}: cannot set a key inside a plain value")


def _list_item(items: list[Any], part: str | int, assignment: str) -> Any:
    if isinstance(part, int):
        if part >= len(items):
            raise UserError(f"--set {assignment}: the list has no item {part}")
        return items[part]
    for item in items:
        if isinstance(item, dict) and item.get("id") == part:
            return item
    raise UserError(f"--set {assignment}: no entry with id '{part}'")
