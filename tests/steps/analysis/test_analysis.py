"""The analysis step on real query outputs: the original's example as written, a neuron whose reward
pays for length, and clear errors for what a config gets wrong."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mirror_neuron.cli import main
from mirror_neuron.report import load_run, write_report
from mirror_neuron.runner import RunOptions, run_experiment
from mirror_neuron.store import StepOutput
from tests.conftest import REPO, run_cli, write_config
from tests.fixtures.interrupt import stopped_after

LENGTH_NEURON = """
experiment: {name: length, seed: 0}
tracking: {backend: none}
data:
  id: prompts
  path: builtin:prompts
  schema: {all: {question: question, answer: answer}}
model:
  id: neuron
  type: neuron
  metagraph: {n: 24}
  miners: {length_padder: 6, echo: 6, stock_phrase: 6}
  reward: {type: LengthRewardModel, cap: 1000}
query:
  id: forward
  requires: [neuron, prompts]
  entrypoint: Neuron
  topk: 12
analysis:
  id: drivers
  requires: [forward]
  compute: [completion_length, completion_avg_word_length, question_length]
  estimators:
    - {id: forest, name: RandomForestRegressor, args: {n_estimators: 30, random_state: 0}}
  predict:
    - {target: reward, x: [completion_avg_word_length, question_length], estimator: forest}
  plot:
    - {target: reward, features: [completion_length]}
  bootstrap: 200
"""


def output(run: Path, step: str) -> StepOutput:
    return StepOutput((run / step).resolve())


def test_the_original_analysis_example_runs_as_written(tmp_path: Path) -> None:
    options = RunOptions(config=REPO / "configs" / "original_analysis.yml", offline=True, out=tmp_path / "run",
                         overrides=["data.sample.n=32"])  # fewer pairs, for speed; the analysis is as written
    result = run_experiment(options)
    analysis = output(result.out, "my_analysis")
    verdicts = analysis.table("verdicts")
    assert verdicts["subject"].tolist() == ["loss", "chosen_end_scores"]
    assert verdicts["verdict"].isin(["length", "beyond_length", "weak", "unpredictable"]).all()
    metrics = analysis.table("metrics")
    assert set(metrics["model"]) == {"gbr", "length_baseline"} and len(metrics) == 4
    assert {"r2", "r2_low", "r2_high", "mae", "spearman", "spearman_low"} <= set(metrics.columns)
    plots = {path.name for path in analysis.plots()}
    for target in ("loss", "chosen_end_scores", "rejected_end_scores"):
        features = ("question_length", "num_words", "avg_word_length")
        assert {f"{target}_vs_{feature}.png" for feature in features} <= plots
    assert {"loss_predicted_vs_actual.png", "chosen_end_scores_predicted_vs_actual.png"} <= plots
    data = analysis.table()
    assert {"question_length", "num_words", "avg_word_length", "predicted.loss"} <= set(data.columns)
    report = result.report.read_text()
    assert verdicts["sentence"][0].replace("'", "&#x27;") in report and "loss_vs_num_words" in report

    again = run_experiment(options)
    assert {record.status for record in again.records} == {"reused"}
    recomputed = run_experiment(RunOptions(**{**vars(options), "steps": "my_analysis", "force": True}))
    summary = recomputed.records[-1].summary  # embeddings come from the cache: nothing is embedded again
    assert recomputed.records[-1].status == "computed"
    assert summary["embedded_texts"] == 0 and summary["cached_texts"] == data["question"].nunique()
    assert recomputed.records[-1].output.table("verdicts").equals(verdicts)


def test_length_alone_explains_a_reward_that_pays_for_length(tmp_path: Path) -> None:
    result = run_experiment(RunOptions(config=write_config(tmp_path / "c.yml", LENGTH_NEURON), out=tmp_path / "run"))
    analysis = output(result.out, "drivers")
    verdict = analysis.table("verdicts").iloc[0]
    assert verdict["subject"] == "reward" and verdict["verdict"] == "length", verdict["sentence"]
    assert verdict["sentence"].startswith("Completion length alone explains")
    assert verdict["baseline_low"] > 0.9
    importance = analysis.table("importance")
    assert set(importance["input"]) == {"completion_avg_word_length", "question_length"}
    data = analysis.table()
    assert {"uid", "behaviour", "completion", "reward", "weight", "predicted.reward"} <= set(data.columns)
    assert [p.name for p in analysis.plots()] == ["reward_distribution.png", "reward_predicted_vs_actual.png",
                                                  "reward_vs_completion_length.png"]

    rebuilt = write_report(load_run(result.out)).read_text()
    assert "Completion length alone explains" in rebuilt


def test_mistakes_are_named_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    typo = LENGTH_NEURON.replace("RandomForestRegressor", "RandomForestRegresor")
    result = run_cli("run", "--config", str(write_config(tmp_path / "a.yml", typo)), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "analysis.estimators[0].name (line 24): unknown scikit-learn estimator 'RandomForestRegresor' " \
           "(did you mean 'RandomForestRegressor'" in result.stderr
    assert not (tmp_path / "store").exists()  # nothing ran
    for config, message in (
            (LENGTH_NEURON.replace("n_estimators: 30", "n_estimator: 30"),
             "analysis.estimators[0].args.n_estimator (line 24): RandomForestRegressor has no argument "
             "'n_estimator' (did you mean 'n_estimators'?)"),
            (LENGTH_NEURON.replace("random_state: 0}", "random_state: 0, max_depth: -1}"),
             "analysis.estimators[0].args.max_depth (line 24): The 'max_depth' parameter of RandomForestRegressor"),
            (LENGTH_NEURON.replace("estimator: forest}", "estimator: forrest}"),
             "analysis.predict[0].estimator (line 26): unknown estimator 'forrest' (did you mean 'forest'?)"),
            (LENGTH_NEURON.replace("[completion_length]}", "[completion_lenght]}"),
             "analysis.plot[0].features[0] (line 28): unknown feature 'completion_lenght' "
             "(did you mean 'completion_length'")):
        assert main(["validate", "--config", str(write_config(tmp_path / "b.yml", config))]) == 2
        assert message in capsys.readouterr().err


def test_an_interrupted_analysis_resumes_from_its_stored_chunk(tmp_path: Path) -> None:
    options = RunOptions(config=write_config(tmp_path / "c.yml", LENGTH_NEURON), out=tmp_path / "run")
    with stopped_after(1, "drivers"):  # the chunk is stored, the output is not yet finished
        run_experiment(options)
    assert not (tmp_path / "run" / "drivers").exists()
    result = run_experiment(options)
    assert [record.status for record in result.records] == ["reused"] * 3 + ["resumed"]
    analysis = output(result.out, "drivers")
    assert result.records[-1].summary["rows"] == len(analysis.table()) > 0
    assert analysis.table("verdicts")["verdict"].tolist() == ["length"]
    assert len(analysis.plots()) == 3


def test_an_unknown_target_lists_the_columns_and_writes_no_output(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yml", LENGTH_NEURON.replace("{target: reward, x", "{target: rewards, x"))
    result = run_cli("run", "--config", str(config), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "analysis.predict[0].target (line 26): unknown target 'rewards' (did you mean 'reward'" in result.stderr
    assert "this Neuron query has: " in result.stderr and "weight" in result.stderr
    finished = [path.read_text() for path in (tmp_path / "store").glob("*/manifest.json")]
    assert len(finished) == 3 and not any('"analysis"' in manifest for manifest in finished)
    assert not (tmp_path / "run" / "drivers").exists()


def test_the_frame_of_a_neuron_query_has_one_row_per_successful_completion(tmp_path: Path) -> None:
    result = run_experiment(RunOptions(config=write_config(tmp_path / "c.yml", LENGTH_NEURON), out=tmp_path / "run",
                                       steps="forward"))
    events = output(result.out, "forward").table()
    from mirror_neuron.analysis.sources import load_frame

    frame = load_frame(output(result.out, "forward"))
    assert frame.kind == "neuron"
    assert len(frame.table) == sum(len(uids) for uids in events["successful_uids"])
    assert pd.api.types.is_float_dtype(frame.table["weight"])
    assert (frame.table["group"] == frame.table["question"]).all()
