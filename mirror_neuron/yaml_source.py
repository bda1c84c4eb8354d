"""Safe YAML loading that remembers where every key came from.

Only plain YAML is accepted: Python tags are refused by ``yaml.SafeLoader``, duplicate keys are
errors, and documents whose aliases would expand past the ``config_nodes`` limit (alias bombs,
:mod:`mirror_neuron.limits`), that nest deeper
than ``MAX_DEPTH`` or that contain themselves (recursive aliases) are refused before they are built.
Config files and ``--set`` values (:mod:`mirror_neuron.overrides`) go through the same checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mirror_neuron import limits
from mirror_neuron.errors import ConfigError, UserError
from mirror_neuron.files import read_bounded

MAX_DEPTH = 64  # levels of nesting: far beyond any config, far below Python's recursion limit

KeyPath = tuple[str | int, ...]


@dataclass
class YamlSource:
    """A loaded YAML document: its data plus the line of each key path (1-based), and the key paths
    that ``--set`` overrode (with the ``--set`` that did)."""

    path: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    overrides: dict[KeyPath, str] = field(default_factory=dict)

    def line_of(self, key_path: KeyPath) -> int | None:
        """Line of ``key_path``, or of its nearest ancestor that the file spells out."""
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return None

    def overridden_by(self, key_path: KeyPath) -> str | None:
        """The ``--set`` that gave ``key_path`` (or an ancestor) its value, if one did."""
        for end in range(len(key_path), 0, -1):
            assignment = self.overrides.get(tuple(key_path[:end]))
            if assignment is not None:
                return assignment
        return None

    def where(self, key_path: KeyPath, shown: str | None = None) -> str:
        """``file: key.path (line N)`` for error messages; ``(set by --set ...)`` where ``--set`` gave the value."""
        shown = shown if shown is not None else format_key_path(key_path)
        line = self.line_of(key_path)
        assignment = self.overridden_by(key_path)
        parts = [self.path]
        if shown:
            parts.append(f": {shown}")
        if assignment is not None:
            parts.append(f" (set by {assignment})")
        elif line is not None:
            parts.append(f" (line {line})")
        return "".join(parts)


def format_key_path(key_path: KeyPath) -> str:
    """``('query', 0, 'tokenizer')`` -> ``query[0].tokenizer``."""
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def load_yaml_file(path: str | Path) -> YamlSource:
    """Read and parse ``path`` (a regular file within the ``config_bytes`` limit); any problem becomes a
    one-line :class:`ConfigError`."""
    shown = str(path)
    try:
        text = read_bounded(Path(path), "config_bytes", "config file").decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", shown) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file ({error})", shown) from None
    except UserError as error:
        raise ConfigError(error.message, shown) from None
    return load_yaml_text(text, shown)


def load_yaml_text(text: str, shown: str = "<config>") -> YamlSource:
    try:
        _check_nesting(text, shown)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error), shown) from None
    if node is None:
        return YamlSource(shown, None)
    try:
        size = _expanded_size(node, {}, set())
    except _Refused as error:
        raise ConfigError(str(error), shown) from None
    if size > limits.limit("config_nodes"):
        raise ConfigError(f"the document expands to too many nodes through aliases: "
                          f"{limits.over('config_nodes')}", shown)
    lines: dict[KeyPath, int] = {}
    _check_and_map(node, (), lines, shown)
    try:
        data = yaml.SafeLoader(text).get_single_data()
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error), shown) from None
    except ValueError:  # a number too long to read (Python's digit limit for int())
        line = next((i + 1 for i, text_line in enumerate(text.splitlines()) if re.search(r"\d{4000,}", text_line)), None)
        where = f" (line {line})" if line else ""
        raise ConfigError(f"invalid YAML: a number of thousands of digits{where}; no setting takes one", shown) from None
    return YamlSource(shown, data, lines)


DICT_SOURCE = "<dict>"  # how errors name a config given as a Python dict


def dict_as_yaml(config: Mapping[str, Any]) -> str:
    """A config given as a Python mapping, as the YAML text it stands for: strings, numbers, booleans, None,
    lists (or tuples) and mappings; a path becomes its string. Anything else is a :class:`ConfigError`
    naming its key path."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"the config must be a mapping of sections, got {type(config).__name__}", DICT_SOURCE)
    return yaml.safe_dump(_plain(config, ()), sort_keys=False, allow_unicode=True)


def load_yaml_dict(config: Mapping[str, Any]) -> YamlSource:
    """A config given as a Python mapping, loaded through the same checks as a file (:func:`load_yaml_text`);
    errors name its key paths, with no line."""
    source = load_yaml_text(dict_as_yaml(config), DICT_SOURCE)
    source.lines.clear()  # the lines of a text the user never saw
    return source


def _plain(value: Any, key_path: KeyPath) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, (str, int, float, bool)):
                raise ConfigError(f"a key must be text, got {type(key).__name__}",
                                  f"{DICT_SOURCE}: {format_key_path(key_path)}" if key_path else DICT_SOURCE)
        return {key: _plain(child, key_path + (str(key),)) for key, child in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(child, key_path + (index,)) for index, child in enumerate(value)]
    if callable(getattr(value, "tolist", None)):  # a numpy scalar or array
        return _plain(value.tolist(), key_path)
    raise ConfigError(f"expected a string, number, boolean, null, list or mapping, got {type(value).__name__}",
                      f"{DICT_SOURCE}: {format_key_path(key_path)}")


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if "could not determine a constructor" in str(error):
        problem = "tags such as '!!python/...' are not allowed; use plain YAML values"
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"invalid YAML: {problem}{where}"


class _Refused(Exception):
    def __init__(self, node: yaml.Node, problem: str) -> None:
        super().__init__(f"{problem} (line {node.start_mark.line + 1}); refused")


def _expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]], active: set[int], depth: int = 1) -> int:
    """Number of nodes ``node`` becomes once aliases are expanded (shared nodes counted each time).
    :class:`_Refused` when a node contains itself, or nests deeper than ``MAX_DEPTH`` once expanded."""
    return _size_and_height(node, memo, active, depth)[0]


def _size_and_height(node: yaml.Node, memo: dict[int, tuple[int, int]], active: set[int],
                     depth: int) -> tuple[int, int]:
    key = id(node)
    if key in active:
        raise _Refused(node, "recursive alias: this node contains itself through an alias")
    if depth > MAX_DEPTH or (key in memo and depth + memo[key][1] - 1 > MAX_DEPTH):
        raise _Refused(node, f"nested more than {MAX_DEPTH} levels deep once aliases are expanded")
    if key in memo:
        return memo[key]
    active.add(key)
    children = (node.value if isinstance(node, yaml.SequenceNode) else
                [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else [])
    measured = [_size_and_height(child, memo, active, depth + 1) for child in children]
    active.discard(key)
    size = min(1 + sum(size for size, _ in measured), limits.limit("config_nodes") + 1)  # capped: no huge sums
    memo[key] = (size, 1 + max((height for _, height in measured), default=0))
    return memo[key]


def _check_nesting(text: str, shown: str) -> None:
    """Refuse text nested deeper than ``MAX_DEPTH`` before it is composed (composing recurses)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"nested more than {MAX_DEPTH} levels deep (line {event.start_mark.line + 1}); "
                                  "refused", shown)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _check_and_map(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], shown: str) -> None:
    """Record the line of every key path and refuse duplicate keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key == "<<":
                continue
            if key in seen:
                where = f"{shown}: {format_key_path(path + (key,))} (line {key_node.start_mark.line + 1})"
                raise ConfigError("duplicate key", where)
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _check_and_map(value_node, path + (key,), lines, shown)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _check_and_map(child, path + (index,), lines, shown)
