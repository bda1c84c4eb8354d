"""``--set dotted.key=value`` overrides, applied to the raw config before validation.

Paths address sections like error messages do: ``data.sample.n`` for a one-entry section,
``query[0].tokenizer.max_length`` or ``query.0....`` by position, ``query.my_query....`` by id.
Values are read as YAML by the same safe loader as config files (:mod:`mirror_neuron.yaml_source`:
no Python tags, no duplicate keys, no alias bombs): ``5``, ``true``, ``[a, b]``, ``{n: 5}``.
An error about an overridden key names the ``--set`` that gave its value, not the file's line.
"""

from __future__ import annotations

import re
from typing import Any

from mirror_neuron.errors import UserError
from mirror_neuron.yaml_source import KeyPath, YamlSource, load_yaml_text

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_PATH = re.compile(r"[^.\[\]]+(?:\.[^.\[\]]+|\[\d+\])*")
SHOWN_CHARACTERS = 60  # of an assignment, in error messages


def apply_overrides(data: Any, assignments: list[str]) -> Any:
    """Return ``data`` with each ``key.path=value`` assignment applied in order."""
    return _apply(data, assignments)[0]


def override(source: YamlSource, assignments: list[str], origin: str = "--set") -> None:
    """Apply ``assignments`` to a loaded config and remember which key paths they set, so that errors
    there say ``(set by --set ...)`` (or by another ``origin``, such as a sweep) instead of the line of the
    value the file still holds."""
    source.data, paths = _apply(source.data, assignments, origin)
    for path, assignment in paths:
        source.overrides[path] = f"{origin} {shorten(assignment)}"


def _apply(data: Any, assignments: list[str], origin: str = "--set") -> tuple[Any, list[tuple[KeyPath, str]]]:
    data = data if isinstance(data, dict) else {}
    paths = []
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        label = f"{origin} {shorten(assignment)}"
        if not sep or not key.strip():
            raise UserError(f"{label}: expected dotted.key=value")
        value = load_yaml_text(text, f"{origin} {shorten(key.strip())}").data if text.strip() else ""
        paths.append((_assign(data, _parse_path(key.strip(), label), value, label), assignment))
    return data, paths


def shorten(text: str) -> str:
    """``text`` cut to ``SHOWN_CHARACTERS`` for a one-line message."""
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 3] + "..."


def _parse_path(key: str, label: str) -> list[str | int]:
    if not _PATH.fullmatch(key):
        raise UserError(f"{label}: cannot read the key path '{key}'")
    parts: list[str | int] = []
    for match in _PART.finditer(key):
        name, index = match.groups()
        parts.append(int(index) if index is not None else (int(name) if name.isdigit() else name))
    return parts


def _assign(data: dict[str, Any], parts: list[str | int], value: Any, label: str) -> KeyPath:
    """Set the value; return the key path it now has (list entries named by id become positions)."""
    current: Any = data
    path: list[str | int] = []
    for position, part in enumerate(parts[:-1]):
        nxt = parts[position + 1]
        if isinstance(current, list):
            index = _list_index(current, part, label)
            current = current[index]
            path.append(index)
            continue
        if not isinstance(current, dict):
            raise UserError(f"{label}: '{part}' is inside a value that is not a mapping")
        if current.get(part) is None:
            current[part] = [] if isinstance(nxt, int) else {}
        current = current[part]
        path.append(part)
    last = parts[-1]
    if isinstance(current, list):
        if not isinstance(last, int) or last >= len(current):
            raise UserError(f"{label}: no list item '{last}'")
        current[last] = value
    elif isinstance(current, dict):
        current[last] = value
    else:
        raise UserError(f"{label}: cannot set a key inside a plain value")
    return (*path, last)


def _list_index(items: list[Any], part: str | int, label: str) -> int:
    if isinstance(part, int):
        if part >= len(items):
            raise UserError(f"{label}: the list has no item {part}")
        return part
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == part:
            return index
    raise UserError(f"{label}: no entry with id '{part}'")
