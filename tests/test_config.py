"""Config validation: every problem is one line naming file, key path, line, and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError
from mirror_neuron.graph import check_requires
from mirror_neuron.yaml_source import load_yaml_text

DATA = "data:\n  id: d\n  path: builtin:prompts\n"


def parse(text: str):
    experiment = parse_experiment(load_yaml_text(text, "c.yml"))
    check_requires(experiment)
    return experiment


def problem(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse(text)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_minimal_config_is_valid() -> None:
    experiment = parse(DATA + "experiment: {name: x, seed: 3, tags: [a]}\ntracking: {backend: none}\n")
    assert [e.id for e in experiment.entries] == ["d"]
    assert experiment.info.seed == 3 and experiment.tracking.backend == "none"


def test_sections_take_one_entry_or_a_list() -> None:
    experiment = parse("data:\n  - id: a\n    path: builtin:prompts\n  - id: b\n    path: builtin:prompts\n")
    assert [e.label for e in experiment.entries] == ["data[0]", "data[1]"]


@pytest.mark.parametrize("text, expected", [
    ("", "the config is empty"),
    ("- 1\n", "must be a mapping of sections"),
    ("dta:\n  id: d\n", "c.yml: dta (line 1): unknown section 'dta' (did you mean 'data'?)"),
    ("experiment: {name: x}\n", "defines no step"),
    (DATA + "  smaple: {n: 3}\n", "c.yml: data.smaple (line 4): unknown key 'smaple' (did you mean 'sample'?)"),
    (DATA + "  sample: {method: frist, n: 3}\n",
     "data.sample.method (line 4): expected one of 'first', 'random' or 'all', got 'frist' (did you mean 'first'?)"),
    (DATA + "  sample:\n    method: first\n    n: many\n", "data.sample.n (line 6): expected a valid integer"),
    (DATA + "  sample: {method: first}\n", "sample.method 'first' needs n"),
    ("data:\n  id: d\n", "data.path (line 1): required key is missing"),
    ("data:\n  id: ../escape\n  path: builtin:prompts\n", "data.id (line 2): an id is 1-128 letters"),
    ("data:\n  - id: d\n    path: builtin:prompts\n  - id: d\n    path: builtin:prompts\n",
     "data[1].id (line 4): duplicate id 'd' (also used by data[0])"),
    (DATA + "query:\n  id: q\n  entrypoint: Nueron\n", "unknown query component 'Nueron'"),
    (DATA + "query:\n  id: q\n", "query (line 4): missing 'entrypoint'"),
    (DATA + "analysis:\n  id: a\n  entrypoint: analyis\n",
     "unknown analysis component 'analyis' (did you mean 'analysis'?)"),
    (DATA + "experiment: {sed: 1}\n", "experiment.sed (line 4): unknown key 'sed' (did you mean 'seed'?)"),
    (DATA + "tracking: {backend: mlflow}\n", "tracking.backend (line 4): expected one of 'wandb' or 'none'"),
    (DATA + "  requires: [dd]\n", "data.requires[0] (line 4): requires unknown id 'dd' (did you mean 'd'?)"),
    (DATA + "query:\n  id: q\n  entrypoint: tests.nope:Step\n", "cannot import 'tests.nope'"),
    (DATA + "query:\n  id: q\n  entrypoint: mirror_neuron.errors:UserError\n", "is not a step"),
])
def test_problems_are_located_and_explained(text: str, expected: str) -> None:
    assert expected in problem(text)


def test_the_original_model_shape_is_a_reward_model() -> None:
    text = DATA + """model:
  id: my_model
  path: EleutherAI/gpt-j-6b
  ckpt: https://huggingface.co/Dahoas/gptj-rm-static/resolve/main/hf_ckpt.pt
  tokenizer: default
  embedding: default
  norm: default
"""
    entry = parse(text).entry("my_model")
    assert entry.entrypoint == "reward_model" and entry.step.config.kind == "trlx"
    assert entry.step.config.ckpt.endswith("hf_ckpt.pt")


def test_cycles_are_named() -> None:
    text = """query:
  - id: a
    entrypoint: tests.fixtures.slow_step:SlowEcho
    requires: [b]
  - id: b
    entrypoint: tests.fixtures.slow_step:SlowEcho
    requires: [a]
"""
    assert "requires form a cycle: a -> b -> a" in problem(text)


def test_custom_steps_load_from_module_attr(tmp_path: Path) -> None:
    experiment = parse(DATA + "query:\n  id: q\n  requires: [d]\n  entrypoint: tests.fixtures.slow_step:SlowEcho\n"
                       "  delay_s: 0\n")
    assert experiment.entry("q").step.config.delay_s == 0
