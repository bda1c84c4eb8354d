"""Code a config names, as a hostile or careless user writes it: what it raises is its call's failure, a
strategy whose every call fails stops the run with one line, and code of the wrong shape is refused at
validation, each through the real CLI."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron import interrupts
from mirror_neuron.neuron.miners.base import call_failure
from tests.fixtures.one_line import error_line, neuron_config, run_main

CODE = "tests.fixtures.hostile_code"


@pytest.mark.parametrize("miner, first_error", [
    ("exits", "SystemExit: 0"),  # sys.exit(0) in a miner must not end the run with exit code 0
    ("interrupts", "KeyboardInterrupt"),  # nor look like the user's Ctrl-C (exit code 130)
    ("crashes", "RuntimeError: the miner's own bug"),
])
def test_a_miner_whose_every_call_raises_stops_the_run_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 miner: str, first_error: str) -> None:
    result = run_main(capsys, tmp_path, neuron_config(miners=f"{{'{CODE}:{miner}': 3}}"))
    error_line(result, f"c.yml: model.miners.{CODE}:{miner} (line 11)", f"every call of miner '{CODE}:{miner}' raised",
               first_error)
    assert not list((tmp_path / "store").glob("*.partial"))  # nothing half-written is left to resume


def test_a_tournament_with_a_broken_strategy_says_which(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = neuron_config(miners=f"{{'{CODE}:crashes': 3}}").replace("""  entrypoint: Neuron
  topk: 4""", """  entrypoint: Tournament
  method: forward
  steps: 4
  repetitions: 2
  resamples: 200""")
    error_line(run_main(capsys, tmp_path, text), f"model.miners.{CODE}:crashes", "raised", "RuntimeError")


def test_a_miner_that_sometimes_raises_only_fails_those_calls(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(capsys, tmp_path, neuron_config(miners=f"{{'{CODE}:half_crashes': 8}}", topk="null"))
    assert result.code == 0, result.err
    events = pd.read_parquet(tmp_path / "out" / "forward" / "data.parquet")
    codes = [code for row in events.itertuples() for uid, code in zip(row.uids, row.return_codes)
             if row.behaviours[list(row.uids).index(uid)] == f"{CODE}:half_crashes"]
    assert 21 in codes and 1 in codes  # UNKNOWN_EXCEPTION for the calls that raised, SUCCESS for the others


def test_the_user_s_ctrl_c_still_stops_the_run_but_a_miner_s_own_interrupt_does_not() -> None:
    with interrupts.watching():
        assert isinstance(call_failure(KeyboardInterrupt()), KeyboardInterrupt)  # no signal: the miner's own
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C
        assert interrupts.pressed()
        with pytest.raises(KeyboardInterrupt):
            call_failure(KeyboardInterrupt())  # now re-raised: the run stops


@pytest.mark.parametrize("target, message", [
    ("os:system", "'os:system' is a built-in function; a behaviour from a config's own code is a subclass of "
                  "mirror_neuron.neuron.miners.base.Behaviour or a Python function(query, uid, rng, **params)"),
    ("builtins:eval", "'builtins:eval' is a built-in function"),
    (f"{CODE}:no_arguments", f"'{CODE}:no_arguments' cannot be called with (query, uid, rng): no_arguments()"),
    ("mirror_neuron.errors:UserError", "is the class UserError, not what is expected"),
])
def test_miner_code_of_the_wrong_shape_is_refused_at_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                target: str, message: str) -> None:
    result = run_main(capsys, tmp_path, neuron_config(miners=f"{{'{target}': 2}}"), command="validate")
    error_line(result, f"c.yml: model.miners.{target} (line 11)", message)


@pytest.mark.parametrize("path, message", [
    ("./no-such-model", "no model folder or file './no-such-model'"),
    ("tiny:nope", "unknown tiny model 'tiny:nope'; use one of tiny:gptj, tiny:gpt2, tiny:gptneo"),
])
def test_an_lm_miner_that_cannot_load_is_refused_at_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               path: str, message: str) -> None:
    result = run_main(capsys, tmp_path, neuron_config(miners=f"{{lm: {{count: 2, path: '{path}'}}}}"),
                      command="validate")
    error_line(result, "c.yml: model.miners.lm (line 11)", message)


def test_an_abstract_step_is_not_an_entrypoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "tracking: {backend: none}\nquery: {id: q, entrypoint: 'mirror_neuron.steps.base:Step'}\n"
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: query.entrypoint (line 2)",
               "is an abstract step (it does not implement run)")


HACKS = """\
tracking: {{backend: none}}
data: {{id: prompts, path: builtin:prompts, sample: {{method: first, n: 6}}}}
query:
  id: hacks
  requires: [prompts]
  entrypoint: RewardHackSearch
  reward: {{type: RewardStack, scorers: {{length: {{type: LengthRewardModel, cap: 50}}}}}}
  transforms: [truncation, {transform}]
  max_depth: 1
  calibration: 0
  resamples: 200
"""


@pytest.mark.parametrize("transform, message", [
    (f"{CODE}:swapped", f"'{CODE}:swapped' cannot be called with (answer, question, rng): swapped(answer)"),
    (f"{{'{CODE}:refuses': {{strength: 3}}}}", "cannot be called with (answer, question, rng, strength=...)"),
    ("{length_padding: {wrods: 3}}", "has no parameter 'wrods' (did you mean 'words'?)"),
])
def test_transforms_of_the_wrong_shape_are_refused_at_validation(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 transform: str, message: str) -> None:
    result = run_main(capsys, tmp_path, HACKS.format(transform=transform), command="validate")
    error_line(result, "c.yml: query.transforms[1] (line 8)", message)


@pytest.mark.parametrize("transform, message", [
    ("returns_none", "transform 'tests.fixtures.hostile_code:returns_none' returned NoneType, not text"),
    ("refuses", "transform 'tests.fixtures.hostile_code:refuses' raised ValueError: this transform's own problem"),
])
def test_a_transform_s_own_failure_is_blamed_on_the_transform(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              transform: str, message: str) -> None:
    line = error_line(run_main(capsys, tmp_path, HACKS.format(transform=f"{CODE}:{transform}")),
                      "c.yml: query.transforms (line 8)", message)
    assert "budget" not in line


def test_an_lm_miner_whose_model_fails_to_load_stops_at_its_first_call(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")  # looks like a model folder until it is loaded
    result = run_main(capsys, tmp_path, neuron_config(miners=f"{{lm: {{count: 2, path: '{tmp_path / 'model'}'}}}}"))
    error_line(result, "c.yml: model (line 7)", "cannot load causal LM")
