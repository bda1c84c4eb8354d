"""An analysis of one frame as a library: tables with verdicts in the analysis vocabulary, plots where it is
told, stored tensors read through the function it is given, and mistakes pointed at by the ``where`` it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mirror_neuron.analysis.sources import Frame
from mirror_neuron.analysis.spec import AnalysisSpec
from mirror_neuron.analysis.work import Analysis
from mirror_neuron.errors import ConfigError
from mirror_neuron.verdicts import ANALYSIS, from_table
from mirror_neuron.yaml_source import KeyPath

SPEC = {"compute": ["completion_length", {"id": "stored", "type": "stored", "tensor": "embeddings"}],
        "estimators": [{"id": "ridge", "name": "Ridge"}],
        "predict": [{"target": "score", "x": ["stored"], "estimator": "ridge"}],
        "plot": [{"target": "score"}], "folds": 3, "bootstrap": 50, "importance_repeats": 1}


def frame(rows: int = 48) -> Frame:
    """Completions whose score is their length, as a RewardModel query over rows would give them."""
    rng = np.random.default_rng(0)
    completions = [" ".join(["word"] * int(n)) for n in rng.integers(1, 30, size=rows)]
    table = pd.DataFrame({"question": [f"question {i}" for i in range(rows)], "completion": completions,
                          "score": [len(c) + rng.normal() for c in completions]})
    table["group"] = table["question"]
    return Frame(table, "rows", ("completion",))


def analysis(spec: dict, tensors: dict[str, np.ndarray], asked: list[tuple[KeyPath, ...]]) -> Analysis:
    def where(*paths: KeyPath) -> str:
        asked.append(paths)
        return f"c.yml: analysis.{'.'.join(map(str, paths[0]))}"

    def read_tensor(name: str) -> np.ndarray:
        return tensors[name]

    return Analysis(AnalysisSpec.model_validate(spec), frame(), seed=0, config_dir=Path("."), where=where,
                    say=lambda message: None, read_tensor=read_tensor)


def test_an_analysis_gives_its_tables_verdicts_and_plots(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).normal(size=(48, 4)).astype(np.float32)
    work = analysis(SPEC, {"embeddings": noise}, [])
    work.check_targets()
    work.compute()
    work.predict()
    tables = work.tables()
    assert list(tables) == ["data", "metrics", "importance", "verdicts"]
    [verdict] = from_table(tables["verdicts"])
    assert verdict.verdict == "length" and verdict.verdict in ANALYSIS.verdicts  # noise predicts nothing of it
    assert verdict.estimate == verdict.evidence["value"] and verdict.interval.level == 0.95
    assert work.summary["r2/score"] == verdict.estimate and work.summary["r2_length/score"] > 0.9
    work.plot(lambda name: tmp_path / name.replace("/", "_"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots_score_distribution.png",
                                                         "plots_score_predicted_vs_actual.png",
                                                         "plots_score_vs_completion_length.png"]


def test_mistakes_only_the_frame_reveals_are_pointed_at_by_the_given_where() -> None:
    asked: list[tuple[KeyPath, ...]] = []
    wrong = {**SPEC, "predict": [{"target": "scores", "x": ["stored"], "estimator": "ridge"}]}
    with pytest.raises(ConfigError, match=r"c.yml: analysis.predict.0.target: unknown target 'scores' "
                                          r"\(did you mean 'score'"):
        analysis(wrong, {}, asked).check_targets()
    assert asked == [(("predict", 0, "target"), ("predict", 0))]
    with pytest.raises(ConfigError, match="c.yml: analysis.compute.1.tensor: the query stored no tensor 'embeddings'"):
        analysis(SPEC, {}, asked).compute()
