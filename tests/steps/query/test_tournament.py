"""The Tournament step through the runner: tables, plot, printed verdicts, report, resume, config errors."""

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
from tests.fixtures.interrupt import stopped_after
from tests.fixtures.runs import Run, run_config

CONFIG = """\
experiment: {name: tournament, seed: 1}
tracking: {backend: none}
data:
  id: prompts
  path: builtin:prompts
model:
  id: neuron
  type: neuron
  metagraph: {n: 32, validators: 2}
  miners: {length_padder: 4, slow: 3}
  reward: {type: LengthRewardModel, cap: 50}
  training_topk: 8
query:
  id: tournament
  requires: [neuron, prompts]
  entrypoint: Tournament
  method: forward
  topk: 16
  steps: 40
  repetitions: 3
  record_every: 10
  resamples: 500
"""
TABLES = ("shares", "trajectories", "uid_weights", "strategies", "verdicts")


def run(folder: Path, text: str = CONFIG) -> Run:
    return run_config(folder, text)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(tmp_path_factory.mktemp("whole"))


def test_a_tournament_judges_every_strategy_and_shows_it(whole: Run) -> None:
    output = whole.output
    for name in TABLES:
        assert output.table_path(name).exists(), name
    verdicts = output.table("verdicts")
    assert dict(zip(verdicts["subject"], verdicts["verdict"])) == {"length_padder": "exploit", "slow": "failed"}
    shares = output.table("shares")
    assert sorted(shares["repetition"].unique()) == [0, 1, 2]
    assert sorted(shares["step"].unique()) == [10, 20, 30, 40]
    assert sorted(shares["behaviour"].unique()) == ["honest", "length_padder", "slow"]
    pd.testing.assert_series_equal(shares.groupby(["repetition", "step"])["share"].sum(),
                                   pd.Series(1.0, index=shares.groupby(["repetition", "step"]).size().index,
                                             name="share"), check_exact=False)
    strategies = output.table("strategies").set_index("behaviour")
    assert strategies.loc["honest", "verdict"] == "baseline" and strategies.loc["honest", "ratio"] == pytest.approx(1)
    assert strategies.loc["length_padder", "ci_low"] > 1 > strategies.loc["slow", "success_rate"]
    plots = {plot.name: plot for plot in output.plots()}
    assert sorted(plots) == ["weight_per_uid.png", "weight_share.png"]
    assert all(plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for plot in plots.values())
    trajectories = output.table("trajectories")
    assert len(trajectories) == 3 * 4 * 32 and sorted(trajectories["step"].unique()) == [10, 20, 30, 40]
    summary = whole.result.records[-1].summary
    assert summary["verdicts/exploit"] == 1.0 and summary["baseline/healthy"] == 1.0
    assert summary["baseline/success_rate"] == pytest.approx(strategies.loc["honest", "success_rate"])
    # 40 passes of 8 uids over about 28 honest ones: far fewer than the 100 calls alpha 0.99 needs
    assert summary["converged"] == 0.0 and summary["baseline/median_calls"] < 100
    assert not verdicts["converged"].any() and verdicts["sentence"].str.contains("Not converged: honest uids").all()

    lines = whole.stderr.splitlines()
    start = lines.index("verdicts of query 'tournament':")
    printed = lines[start + 2:start + 2 + len(verdicts)]
    for line, row in zip(printed, verdicts.itertuples()):
        assert line.split()[:2] == [row.subject, row.verdict] and line.endswith(row.sentence)

    page = (whole.result.out / "report.html").read_text()
    for sentence in verdicts["sentence"]:
        assert html.escape(sentence) in page
    # the verdicts and the weight-over-time plots come first, each plot once
    places = [page.index(f"{key}=\"{value}\"") for key, value in (
        ("id", "verdicts"), ("alt", "weight_per_uid"), ("alt", "weight_share"), ("id", "experiment"))]
    assert places == sorted(places) and page.count("data:image/png;base64,") == 2
    assert page.count("<span class=\"badge caution\">not converged</span>") == 4  # the two verdicts, twice
    markdown = (whole.result.out / "report.md").read_text()
    assert markdown.index("## Verdicts") < markdown.index("## Steps")
    links = re.findall(r"!\[weight_\w+\]\(([^)]+)\)", markdown)
    assert len(links) == 2 and all((whole.result.out / link).is_file() for link in links)
    assert "(exploit, not converged)" in markdown


def test_controls_are_honest_miners_under_another_label_and_the_summary_counts_the_flagged(tmp_path: Path) -> None:
    text = CONFIG.replace("miners: {length_padder: 4, slow: 3}",
                          "miners: {length_padder: 4, honest_twin: {behaviour: honest, count: 6}}")
    text = text.replace("record_every: 10", "record_every: 10\n  controls: [honest_twin, length_padder]")
    done = run(tmp_path, text)
    verdicts = done.output.table("verdicts").set_index("subject")
    assert verdicts["verdict"].to_dict() == {"length_padder": "exploit", "honest_twin": "neutral"}
    assert verdicts["control"].all()
    summary = done.result.records[-1].summary
    assert summary["controls/declared"] == 2.0 and summary["controls/flagged"] == 1.0
    assert "this tournament's verdicts are suspect" in verdicts.loc["length_padder", "sentence"]


def test_an_interrupted_tournament_resumes_at_the_next_repetition(whole: Run, tmp_path: Path) -> None:
    with stopped_after(2, "tournament"):
        run(tmp_path)
    experiment = parse_experiment(load_yaml_text(CONFIG, "c.yml"))
    assert Store(tmp_path / "store").partial_chunks(plan(experiment, None)[-1].fingerprint) == 2
    resumed = run(tmp_path)
    for name in TABLES:
        pd.testing.assert_frame_equal(resumed.output.table(name), whole.output.table(name))


def test_a_copycat_is_run_again_on_one_hotkey_and_an_interrupted_second_run_resumes(tmp_path: Path) -> None:
    text = CONFIG.replace("miners: {length_padder: 4, slow: 3}", "miners: {copycat: 6}")
    whole = run(tmp_path / "whole", text)
    alone = whole.output.table("one_hotkey_uid_weights")
    assert alone.groupby("repetition")["behaviour"].value_counts().unstack().to_dict("list") == {
        "copycat": [1] * 3, "copycat.spare": [5] * 3, "honest": [26] * 3}
    verdicts = whole.output.table("verdicts").set_index("subject")
    assert verdicts.loc["copycat", "verdict"] == "exploit"  # 6 hotkeys of one machine earn more than one would
    assert "that its backend earns on one hotkey" in verdicts.loc["copycat", "sentence"]
    with stopped_after(4, "tournament"):  # the first repetition of the one-hotkey run is stored
        run(tmp_path / "stopped", text)
    resumed = run(tmp_path / "stopped", text)
    for name in (*TABLES, "one_hotkey_uid_weights"):
        pd.testing.assert_frame_equal(resumed.output.table(name), whole.output.table(name))


@pytest.mark.parametrize(("change", "message"), [
    (("length_padder: 4", "lenght_padder: 4"), r"c.yml: model.miners.lenght_padder \(line 10\): unknown behaviour "
                                               r"component 'lenght_padder' \(did you mean 'length_padder'\?\)"),
    (("steps: 40", "steps: 0"), r"c.yml: query.steps \(line 19\): expected greater than 0, got 0"),
    (("repetitions: 3", "repetitions: 3\n  strategy: echo"), r"c.yml: query.strategy \(line 21\)"),
])
def test_config_errors_say_where_before_anything_runs(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        plan(parse_experiment(load_yaml_text(CONFIG.replace(*change), "c.yml")), None)


@pytest.mark.parametrize(("change", "message"), [
    (("record_every: 10", "record_every: 10\n  baseline: honset"),
     r"c.yml: query.baseline \(line 22\): the baseline strategy 'honset' is played by no uid of the neuron; "
     r"its strategies are honest, length_padder, slow"),
    (("requires: [neuron, prompts]", "requires: [neuron]"), r"c.yml: query.requires \(line 15\): a Tournament "
                                                            r"requires one model entry of type neuron"),
    (("record_every: 10", "record_every: 10\n  controls: [slow, honest_twn]"),
     r"c.yml: query.controls\[1\] \(line 22\): the control strategy 'honest_twn' is played by no uid of the neuron"),
    (("record_every: 10", "record_every: 10\n  controls: [honest]"), r"query.controls\[0\] \(line 22\): the control "
                                                                    r"strategy 'honest' is the baseline"),
])
def test_inputs_that_cannot_make_a_tournament_stop_it_before_the_first_repetition(
        change: tuple[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        run(tmp_path, CONFIG.replace(*change))
    assert not list((tmp_path / "store").glob("*.partial/chunks/*"))


def test_the_run_shows_the_tournament_s_progress_in_plain_lines(whole: Run) -> None:
    lines = [line for line in whole.stderr.splitlines() if "forward passes" in line]
    assert lines, whole.stderr  # captured output is not a terminal: plain lines, no carriage returns
    assert "\r" not in whole.stderr
    assert re.fullmatch(r"\[3/3\] query 'tournament': forward passes 120/120 \(100%\), done in \d+s, "
                        r"3/3 repetitions done", lines[-1]), lines[-1]
