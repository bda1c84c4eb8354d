"""Safe YAML loading: line numbers, refused tags, duplicate keys and alias bombs."""

from __future__ import annotations

import pytest

from mirror_neuron.errors import ConfigError
from mirror_neuron.yaml_source import load_yaml_text

ALIAS_BOMB = """
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
"""


def test_lines_of_nested_keys() -> None:
    source = load_yaml_text("query:\n  - id: q\n    tokenizer:\n      max_length: 5\n", "c.yml")
    assert source.line_of(("query", 0, "tokenizer", "max_length")) == 4
    assert source.where(("query", 0, "tokenizer", "max_length")) == "c.yml: query[0].tokenizer.max_length (line 4)"
    assert source.line_of(("query", 0, "tokenizer", "absent")) == 3  # nearest spelled-out ancestor


def test_python_tags_are_refused() -> None:
    with pytest.raises(ConfigError, match="tags such as '!!python"):
        load_yaml_text("x: !!python/object/apply:os.system ['echo hi']\n")


def test_alias_bombs_are_refused() -> None:
    with pytest.raises(ConfigError, match="expands to too many nodes through aliases"):
        load_yaml_text(ALIAS_BOMB)


def test_small_aliases_are_fine() -> None:
    source = load_yaml_text("base: &b {n: 1}\nother: *b\n")
    assert source.data["other"] == {"n": 1}


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match=r"data.id \(line 3\): duplicate key"):
        load_yaml_text("data:\n  id: a\n  id: b\n", "c.yml")


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(ConfigError, match=r"invalid YAML: .*\(line 2"):
        load_yaml_text("a: [1, 2\nb: 3\n")
