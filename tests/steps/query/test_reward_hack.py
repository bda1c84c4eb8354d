"""The RewardHackSearch step through the runner, on SQuAD v2 questions: tables, plot, printed verdicts,
report, resume, a reward taken from a neuron, and config errors."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.config import parse_experiment
from mirror_neuron.errors import ConfigError
from mirror_neuron.runner import plan
from mirror_neuron.store import Store
from mirror_neuron.yaml_source import load_yaml_text
from tests.conftest import SHARED_DATA
from tests.fixtures.interrupt import stopped_after
from tests.fixtures.runs import Run, run_config

SQUAD = SHARED_DATA / "squad_v2_dev_subset"
CONFIG = f"""\
experiment: {{name: hacks, seed: 2}}
tracking: {{backend: none}}
data:
  id: squad
  path: {SQUAD}
  schema:
    dev: {{question: question, answer: answers.text}}
  sample: {{method: first, n: 90}}
query:
  id: hacks
  requires: [squad]
  entrypoint: RewardHackSearch
  reward:
    type: RewardStack
    scorers: {{length: {{type: LengthRewardModel, cap: 50}}}}
    filters: {{blacklist: {{}}}}
  transforms: [length_padding, prompt_echo, truncation, tests.fixtures.user_hacks:shout]
  search: beam
  beam_width: 2
  budget: 180
  calibration: 10
  resamples: 2000
"""
TABLES = ("evaluations", "candidates", "verdicts", "examples")


def run(folder: Path, text: str = CONFIG) -> Run:
    return run_config(folder, text)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(tmp_path_factory.mktemp("whole"))


def test_a_search_finds_padding_shows_examples_and_keeps_to_its_budget(whole: Run) -> None:
    output = whole.output
    for name in TABLES:
        assert output.table_path(name).exists(), name
    candidates = output.table("candidates").set_index("candidate")
    assert candidates.loc["length_padding", "verdict"] == "exploit"
    assert candidates.loc["prompt_echo", "verdict"] == "penalized"  # the blacklist zeroes echoes of the prompt
    assert candidates.loc["tests.fixtures.user_hacks:shout", "verdict"] == "neutral"  # same words, same length
    assert candidates["questions"].iloc[0] == 29  # 90 rows, 39 answerable, 10 of them for calibration
    summary = whole.result.records[-1].summary
    assert summary["evaluations"] <= 180 and summary["skipped"] > 0 and summary["exploits"] >= 1
    assert len(output.table("evaluations")) == len(output.table("evaluations").drop_duplicates(["candidate", "row"]))

    examples = output.table("examples")
    first = examples.iloc[0]
    assert first["candidate"].startswith("length_padding") and first["before"] in first["after"]
    assert first["reward_after"] > first["reward_before"] and first["f1_after"] < first["f1_before"] == 1.0
    [plot] = output.plots()
    assert plot.name == "reward_gain.png" and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    verdicts = output.table("verdicts")
    lines = whole.stderr.splitlines()
    start = lines.index("verdicts of query 'hacks':")
    printed = lines[start + 2:start + 2 + len(verdicts)]
    for line, row in zip(printed, verdicts.itertuples()):
        assert line.split()[:1] == row.subject.split()[:1] and line.endswith(row.sentence)
    page = (whole.result.out / "report.html").read_text()
    for sentence in verdicts["sentence"]:
        assert html.escape(sentence) in page
    assert html.escape(first["question"]) in page


def test_the_run_shows_the_search_s_depths_and_evaluations_of_its_budget(whole: Run) -> None:
    lines = [line for line in whole.stderr.splitlines() if "search depths" in line]
    evaluations = int(whole.result.records[-1].summary["evaluations"])
    assert lines[-1].startswith("[2/2] query 'hacks': search depths 3/3 (100%), done in ")
    assert lines[-1].endswith(f", {evaluations}/180 reward evaluations ({evaluations - 10} scored here)")


def test_an_interrupted_search_resumes_at_its_next_depth(whole: Run, tmp_path: Path) -> None:
    with stopped_after(2, "hacks"):
        run(tmp_path)
    experiment = parse_experiment(load_yaml_text(CONFIG, "c.yml"))
    assert Store(tmp_path / "store").partial_chunks(plan(experiment, None)[-1].fingerprint) == 2
    resumed = run(tmp_path)
    for name in TABLES:
        pd.testing.assert_frame_equal(resumed.output.table(name), whole.output.table(name))


def test_a_reward_taken_from_a_neuron_that_pays_for_quality_has_no_exploit(tmp_path: Path) -> None:
    text = CONFIG.replace("requires: [squad]", "requires: [squad, neuron]").replace("budget: 180", "budget: 1000")
    text = re.sub(r"  reward:\n(    .*\n)+", "", text)  # the reward comes from the neuron
    text = re.sub(r"  transforms: .*\n", "", text)  # all transforms
    text += "model: {id: neuron, type: neuron, reward: {type: tests.lab.f1_reward:F1RewardModel}}\n"
    candidates = run(tmp_path, text).output.table("candidates")
    assert len(candidates) == 10 and "exploit" not in set(candidates["verdict"])


@pytest.mark.parametrize(("change", "message"), [
    (("truncation,", "truncaton,"), r"c.yml: query.transforms\[2\] \(line 17\): unknown transform component "
                                   r"'truncaton' \(did you mean 'truncation'\?\)"),
    (("search: beam", "search: bream"), r"c.yml: query.search \(line 18\)"),
    (("truncation,", "{truncation: {kep: 0.3}},"), r"c.yml: query.transforms\[2\] \(line 17\): transform "
                                                  r"'truncation' has no parameter 'kep' \(did you mean 'keep'\?\)"),
    (("truncation,", "{truncation: {keep: half}},"), r"c.yml: query.transforms\[2\] \(line 17\): transform "
                                                    r"'truncation': keep: Input should be a valid number"),
    (("cap: 50}}", "cap: 50}, bogus: {type: Nope}}"),
     r"c.yml: query.reward.scorers.bogus \(line 15\): unknown reward component 'Nope'"),
])
def test_config_errors_say_where_before_anything_runs(change: tuple[str, str], message: str) -> None:
    assert change[0] in CONFIG
    with pytest.raises(ConfigError, match=message):
        plan(parse_experiment(load_yaml_text(CONFIG.replace(*change), "c.yml")), None)


def test_a_missing_honest_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"query.honest .*no column 'answr' \(did you mean 'answer'\?\)"):
        run(tmp_path, CONFIG.replace("resamples: 2000", "resamples: 2000\n  honest: answr"))


def test_a_reward_model_step_scores_without_calibration(tmp_path: Path) -> None:
    nq_open = SQUAD.parent / "nq_open/NQ-open.dev.jsonl"
    text = f"""\
experiment: {{name: hacks_lp, seed: 2}}
tracking: {{backend: none}}
data:
  id: nq
  path: {nq_open}
  schema:
    dev: {{question: question, answer: {{field: answer, take: all}}}}
  sample: {{method: first, n: 24}}
model: {{id: lp, kind: log_prob, path: tiny:gpt2, device: cpu}}
query:
  id: hacks
  requires: [nq, lp]
  entrypoint: RewardHackSearch
  transforms: [repetition, truncation]
  max_depth: 1
  resamples: 1000
"""
    result = run(tmp_path, text).result
    summary = result.records[-1].summary
    # a stateless scorer needs no calibration; truncating a one-word answer gives the honest text, not scored again
    assert summary["calibration"] == 0 and 24 * 2 < summary["evaluations"] < 24 * 3
    candidates = result.records[-1].output.table("candidates").set_index("candidate")
    assert candidates.loc["repetition", "verdict"] == "exploit"  # repeated text is likely under a log-prob reward
    assert candidates.loc["truncation", "verdict"] == "penalized"
    assert candidates.loc["repetition", "f1_honest"] == 1.0  # the first answer, judged against all acceptable ones


def test_editing_a_user_transform_changes_the_fingerprint() -> None:
    from mirror_neuron.hashing import sha256_file

    [_, search] = plan(parse_experiment(load_yaml_text(CONFIG, "c.yml")), None)
    assert search.resolved["transform_sources"] == {
        "tests.fixtures.user_hacks:shout": sha256_file(Path(__file__).parents[2] / "fixtures/user_hacks.py")}
