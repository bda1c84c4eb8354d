"""Safe YAML loading that remembers where every key came from.

Only plain YAML is accepted: Python tags are refused by ``yaml.SafeLoader``, duplicate keys are
errors, and documents whose aliases would expand past ``MAX_NODES`` (alias bombs) are refused
before they are built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mirror_neuron.errors import ConfigError

MAX_NODES = 100_000

KeyPath = tuple[str | int, ...]


@dataclass
class YamlSource:
    """A loaded YAML document: its data plus the line of each key path (1-based)."""

    path: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key_path: KeyPath) -> int | None:
        """Line of ``key_path``, or of its nearest ancestor that the file spells out."""
        for end in range(len(key_path), -1, -1):
            line = self.lines.get(tuple(key_path[:end]))
            if line is not None:
                return line
        return None

    def where(self, key_path: KeyPath, shown: str | None = None) -> str:
        """``file: key.path (line N)`` for error messages."""
        shown = shown if shown is not None else format_key_path(key_path)
        line = self.line_of(key_path)
        parts = [self.path]
        if shown:
            parts.append(f": {shown}")
        if line is not None:
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
    """Read and parse ``path``; any problem becomes a one-line :class:`ConfigError`."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", shown) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file ({error})", shown) from None
    return load_yaml_text(text, shown)


def load_yaml_text(text: str, shown: str = "<config>") -> YamlSource:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error), shown) from None
    if node is None:
        return YamlSource(shown, None)
    if _expanded_size(node, {}) > MAX_NODES:
        raise ConfigError(f"document expands to more than {MAX_NODES} nodes through aliases; refused", shown)
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


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if "could not determine a constructor" in str(error):
        problem = "tags such as '!!python/...' are not allowed; use plain YAML values"
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"invalid YAML: {problem}{where}"


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Number of nodes ``node`` becomes once aliases are expanded (shared nodes counted each time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = MAX_NODES + 1  # a node reached again while being counted is a recursive alias
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_NODES + 1)
    return memo[key]


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
