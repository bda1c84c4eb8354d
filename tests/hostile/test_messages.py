"""Bad values a user may write, each refused with one line naming the file, key and line (exit code 2, no
traceback), through the real CLI; checked at validation where the config alone tells, before tracking
starts where the data tells."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.fixtures.one_line import error_line, neuron_config, run_main

STACK = "{{type: RewardStack, scorers: {scorers}, filters: {filters}}}"
CONSTANT = "{c: {type: ConstantRewardModel}}"


@pytest.mark.parametrize("topk", ["-5", "0", "-2"])
def test_topk_is_positive_or_every_uid(tmp_path: Path, capsys: pytest.CaptureFixture[str], topk: str) -> None:
    result = run_main(capsys, tmp_path, neuron_config(topk=topk), command="validate")
    error_line(result, "c.yml: query.topk (line 17)", f"a positive whole number, or null or -1 for every available "
                                                     f"uid, not {topk}")


@pytest.mark.parametrize("topk", ["-1", "null", "99"])
def test_topk_keeps_the_validator_s_meaning(tmp_path: Path, capsys: pytest.CaptureFixture[str], topk: str) -> None:
    assert run_main(capsys, tmp_path, neuron_config(topk=topk), command="validate").code == 0


@pytest.mark.parametrize("timeout", ["-1", "0"])
def test_a_timeout_is_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str], timeout: str) -> None:
    text = neuron_config() + f"  timeout: {timeout}\n"
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: query.timeout (line 18)",
               "expected greater than 0")


def test_a_metagraph_with_nothing_to_query_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = neuron_config().replace("metagraph: {n: 16}", "metagraph: {n: 16, validators: 16}")
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: model.metagraph (line 10)",
               "no uid of the 16 can be queried")


@pytest.mark.parametrize("seed, message", [
    ("-1", "a seed is a whole number from 0 to 4294967295, not -1"),
    ("4294967296", "not 4294967296"),
    ("9" * 5000, "a number of thousands of digits (line 1)"),
])
def test_seeds_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str, message: str) -> None:
    text = neuron_config().replace("seed: 0", f"seed: {seed}")
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml", message)


@pytest.mark.parametrize("reward, where, message", [
    (STACK.format(scorers="constant", filters="{}"), "model.reward.scorers (line 12)",
     "a reward stack needs at least one scorer, as {name: {type: ..., weight: 1.0}}; got str 'constant'"),
    (STACK.format(scorers="{}", filters="{}"), "model.reward.scorers (line 12)", "needs at least one scorer"),
    (STACK.format(scorers="{c: {type: ConstantRewardModel, weight: heavy}}", filters="{}"),
     "model.reward.scorers.c.weight (line 12)", "a scorer's weight is a finite number, not 'heavy'"),
    (STACK.format(scorers=CONSTANT, filters="{relevance: {threshold: high}}"),
     "model.reward.filters.relevance.threshold (line 12)", "valid number, unable to parse string as a number, got 'high'"),
    (STACK.format(scorers=CONSTANT, filters="{blacklist: {banned: 5}}"),
     "model.reward.filters.blacklist.banned (line 12)", "filter 'blacklist': banned: Input should be a valid tuple"),
    (STACK.format(scorers=CONSTANT, filters="{relevance: {threshold: .nan}}"),
     "model.reward.filters.relevance.threshold (line 12)", "expected a finite number, got nan (NaN)"),
    ("{type: ConstantRewardModel, value: .inf}", "model.reward.value (line 12)", "got inf (infinity)"),
    ("{type: LogProbRewardModel, path: 'tiny:nope'}", "model.reward.path (line 12)", "unknown tiny model 'tiny:nope'"),
])
def test_reward_parts_are_checked_at_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str], reward: str,
                                                where: str, message: str) -> None:
    """Each before anything loads (the relevance filter's MiniLM included)."""
    error_line(run_main(capsys, tmp_path, neuron_config(reward=reward), command="validate"), f"c.yml: {where}", message)


def test_bad_gating_arguments_name_their_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = neuron_config().replace("  reward:", "  gating: {type: ConstantGatingModel, value: high}\n  reward:")
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: model.gating.value (line 12)",
               "gating 'ConstantGatingModel': value:")


REWARD_MODEL = "tracking: {{backend: none}}\nmodel:\n  id: rm\n  path: '{path}'\n  kind: {kind}\n{extra}"


def test_cuda_without_a_gpu_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    text = REWARD_MODEL.format(path="tiny:gptj", kind="trlx", extra="  device: cuda\n")
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: model.device (line 6)",
               "device cuda was asked for but no GPU is available")


def test_a_missing_tokenizer_folder_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = REWARD_MODEL.format(path="tiny:gptj", kind="trlx", extra="  tokenizer: ./no_tokenizer\n")
    error_line(run_main(capsys, tmp_path, text, command="validate"), "c.yml: model.tokenizer (line 6)",
               "no model folder or file './no_tokenizer'")


def test_a_refused_pickle_in_a_model_folder_is_one_line_naming_the_file(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from mirror_neuron.models.tiny import tiny_causal_lm

    model, tokenizer = tiny_causal_lm("tiny:gpt2")
    folder = tmp_path / "model"
    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    torch.save({"weights": Executes()}, folder / "pytorch_model.bin")
    text = REWARD_MODEL.format(path=folder, kind="log_prob", extra="")
    error_line(run_main(capsys, tmp_path, text), "c.yml: model.path (line 4)",
               f"the safe (weights-only) loader refused {folder / 'pytorch_model.bin'}", "GLOBAL posix.system")
    assert not (tmp_path / "executed").exists()


class Executes:
    """A pickle that would run a shell command when loaded unsafely."""

    def __reduce__(self) -> tuple:
        return os.system, ("touch executed",)


DATA = "tracking: {{backend: none}}\ndata:\n  id: d\n  path: {path}\n{extra}"


def test_hh_dialogues_without_an_assistant_turn_name_the_row(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    good = {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}
    bad = {"chosen": "\n\nHuman: hi, no answer here", "rejected": good["rejected"]}
    (tmp_path / "hh.jsonl").write_text("\n".join(json.dumps(r) for r in (good, bad)) + "\n")
    text = DATA.format(path=tmp_path / "hh.jsonl",
                       extra="  dialogue: hh\n  schema: {all: {chosen: chosen, rejected: rejected}}\n")
    error_line(run_main(capsys, tmp_path, text), "c.yml: data.schema.all.chosen (line 6)",
               "row all/hh.jsonl#1: the chosen dialogue has no Assistant turn")


@pytest.mark.parametrize("name, write, message", [
    ("binary.parquet", lambda p: pq.write_table(pa.table({"question": [b"ok", b"\xff\xfe"]}), p),
     "row all/binary.parquet#0: field 'question' holds binary data (2 bytes), not text"),
    ("inf.jsonl", lambda p: p.write_text('{"question": "q"}\n{"question": Infinity}\n'),
     "row all/inf.jsonl#1: field 'question' is Infinity, not text"),
    ("nan.json", lambda p: p.write_text('[{"question": NaN}]'), "row all/nan.json#0: field 'question' is NaN, not text"),
])
def test_values_that_are_not_text_name_the_row_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         name: str, write, message: str) -> None:
    write(tmp_path / name)
    error_line(run_main(capsys, tmp_path, DATA.format(path=tmp_path / name, extra="")), "c.yml: data.path (line 4)",
               message)


def test_a_schema_field_no_record_has_is_found_before_tracking_starts(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    text = "tracking: {backend: wandb}\ndata:\n  id: d\n  path: builtin:prompts\n  schema: {all: {question: no_such}}\n"
    error_line(run_main(capsys, tmp_path, text, "--offline"), "c.yml: data.schema.all.question (line 5)",
               "no record has the field 'no_such'")
    assert not (tmp_path / "out").exists()  # no W&B run, no run folder left behind


def test_an_analysis_target_its_stored_query_lacks_is_found_before_tracking_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = neuron_config().replace("tracking: {backend: none}", "tracking: {backend: wandb}")
    assert run_main(capsys, tmp_path, text, "--offline", "--steps", "query").code == 0
    runs = sorted((tmp_path / "out" / "wandb").glob("offline-run-*"))
    analysis = ("analysis:\n  id: drivers\n  requires: [forward]\n  compute: [completion_length]\n"
                "  estimators: [{id: linear, name: LinearRegression}]\n"
                "  predict:\n    - {target: rewards, x: [completion_length], estimator: linear}\n")
    error_line(run_main(capsys, tmp_path, text + analysis, "--offline"), "c.yml: analysis.predict[0].target (line 24)",
               "unknown target 'rewards' (did you mean 'reward'")
    assert sorted((tmp_path / "out" / "wandb").glob("offline-run-*")) == runs  # no W&B run for the refused one
