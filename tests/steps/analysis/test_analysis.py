"""The analysis step on real query outputs: the original's example as written, a neuron whose reward
pays for length, and clear errors for what a config gets wrong."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mirror_neuron.report import load_run, write_report
from mirror_neuron.runner import RunOptions, run_experiment
from mirror_neuron.store import StepOutput
from tests.conftest import REPO, run_cli, write_config

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
  reward: {type: tests.lab.length_reward:LengthRewardModel}
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
    options = RunOptions(config=REPO / "configs" / "original_analysis.yml", offline=True, out=tmp_path / "run")
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
        assert {f"{target}_vs_{feature}.png" for feature in ("question_length", "num_words", "avg_word_length")} <= plots
    assert {"loss_predicted_vs_actual.png", "chosen_end_scores_predicted_vs_actual.png"} <= plots
    data = analysis.table()
    assert {"question_length", "num_words", "avg_word_length", "predicted.loss"} <= set(data.columns)
    report = result.report.read_text()
    assert verdicts["sentence"][0].replace("'", "&#x27;") in report and "loss_vs_num_words" in report

    again = run_experiment(options)
    assert {record.status for record in again.records} == {"reused"}


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


def test_mistakes_are_named_before_anything_runs(tmp_path: Path) -> None:
    typo = LENGTH_NEURON.replace("RandomForestRegressor", "RandomForestRegresor")
    result = run_cli("validate", "--config", str(write_config(tmp_path / "a.yml", typo)))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "analysis.estimators[0].name (line 24): unknown scikit-learn estimator 'RandomForestRegresor' " \
           "(did you mean 'RandomForestRegressor'" in result.stderr
    bad_arg = LENGTH_NEURON.replace("n_estimators: 30", "n_estimator: 30")
    result = run_cli("validate", "--config", str(write_config(tmp_path / "b.yml", bad_arg)))
    assert "analysis.estimators[0].args.n_estimator (line 24): RandomForestRegressor has no argument " \
           "'n_estimator' (did you mean 'n_estimators'?)" in result.stderr
    feature = LENGTH_NEURON.replace("[completion_length]}", "[completion_lenght]}")
    result = run_cli("validate", "--config", str(write_config(tmp_path / "c.yml", feature)))
    assert "unknown feature 'completion_lenght' (did you mean 'completion_length'" in result.stderr


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
