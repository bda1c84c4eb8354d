"""An analysis of one frame: features, embeddings, cross-validated predictions with their verdicts,
tables and plots, as an :class:`~mirror_neuron.analysis.spec.AnalysisSpec` says.

Mistakes in the spec that only the frame reveals (a target it lacks, a text a feature needs) are
:class:`~mirror_neuron.errors.ConfigError` errors pointed at the spec's keys by the ``where`` it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from mirror_neuron.analysis import features as feature_table
from mirror_neuron.analysis import plots
from mirror_neuron.analysis.estimators import build
from mirror_neuron.analysis.predict import Design, Outcome, Settings, Task, evaluate
from mirror_neuron.analysis.sources import Frame
from mirror_neuron.analysis.spec import EMBEDDING, AnalysisSpec, EmbeddingSpec
from mirror_neuron.errors import ConfigError, did_you_mean
from mirror_neuron.verdicts import ANALYSIS, to_table
from mirror_neuron.yaml_source import KeyPath

ID_COLUMNS = ("row_id", "step", "unit", "uid", "behaviour")


class Where(Protocol):
    """Where to point an error about the spec: the first of ``paths`` (keys under the entry) that its
    file spells out, as ``file: section.key (line N)``."""

    def __call__(self, *paths: KeyPath) -> str: ...


class Analysis:
    """The work of one analysis; call :meth:`check_targets`, :meth:`compute` and :meth:`predict`, then
    read :meth:`tables`, :attr:`log` and :attr:`summary` and draw :meth:`plot`.

    ``read_tensor`` gives a tensor the analysed query stored, by name (``FileNotFoundError`` or
    ``KeyError`` when it has none); ``say`` reports progress.
    """

    def __init__(self, spec: AnalysisSpec, frame: Frame, *, seed: int, config_dir: Path, where: Where,
                 say: Callable[[str], None], read_tensor: Callable[[str], np.ndarray]) -> None:
        self.spec = spec
        self.frame = frame
        self.seed = seed
        self.config_dir = config_dir
        self.where = where
        self.say = say
        self.read_tensor = read_tensor
        self.features: dict[str, np.ndarray] = {}
        self.embeddings: dict[str, np.ndarray] = {}
        self.results: list[tuple[Task, Outcome, np.ndarray]] = []  # task, outcome, rows it used
        self.summary: dict[str, float] = {"rows": float(len(frame.table))}

    # -- inputs --------------------------------------------------------------------------------------

    def check_targets(self) -> None:
        """Every predict and plot target is a column of this output; checked before anything is computed."""
        for index, task in enumerate(self.spec.predict):
            self._target(task.target, ("predict", index, "target"), ("predict", index))
        for index, plot in enumerate(self.spec.plot):
            self._target(plot.target, ("plot", index, "target"), ("plot", index, plot.target), ("plot", index))

    def compute(self) -> None:
        """Every feature the entry names (in compute, x, baselines and plots), then the embeddings."""
        config = self.spec
        named: dict[str, tuple[KeyPath, ...]] = {}
        for index, item in enumerate(config.compute):
            if isinstance(item, str):
                named.setdefault(item, (("compute", index),))
        for index, task in enumerate(config.predict):
            for j, name in enumerate(task.x):
                if name in feature_table.FEATURES and name not in self._embedding_ids():
                    named.setdefault(name, (("predict", index, "x", j), ("predict", index, "x")))
            for j, name in enumerate(self._baseline_features(index)):
                named.setdefault(name, (("predict", index, "baseline", j), ("predict", index)))
        for index, plot in enumerate(config.plot):
            for j, name in enumerate(plot.features or config.features):
                named.setdefault(name, (("plot", index, "features", j), ("plot", index, plot.target, j),
                                        ("plot", index)))
        for name, at in named.items():
            self.features[name] = self._feature(name, at)
        computed = cached = 0
        for index, spec in enumerate(config.compute):
            if isinstance(spec, EmbeddingSpec):
                self.embeddings[spec.id], stats = self._embedding(spec, index)
                computed, cached = computed + stats[0], cached + stats[1]
        if config.embeddings:
            self.summary.update(embedded_texts=float(computed), cached_texts=float(cached))

    def _embedding_ids(self) -> list[str]:
        return [spec.id for spec in self.spec.embeddings]

    def _baseline_features(self, index: int) -> list[str]:
        task = self.spec.predict[index]
        if task.baseline:
            return task.baseline
        texts = self.frame.baseline_texts(task.target)
        if not texts:
            raise ConfigError("this output has no text to measure for a length baseline; set baseline: [FEATURES]",
                              self.where(("predict", index)))
        return [f"{text}_length" for text in texts]

    def _feature(self, name: str, at: tuple[KeyPath, ...]) -> np.ndarray:
        feature = feature_table.get(name)
        missing = [text for text in feature.texts if text not in self.frame.table]
        if missing:
            raise ConfigError(f"feature '{name}' needs the {missing[0]} text, which this {self._source_kind()} lacks; "
                              f"its texts: {', '.join(self.frame.texts) or 'none'}", self.where(*at))
        return np.asarray(feature.compute({text: self.frame.table[text].tolist() for text in feature.texts}), float)

    def _source_kind(self) -> str:
        return {"pairs": "RewardModel query over preference pairs", "rows": "RewardModel query over rows",
                "neuron": "Neuron query"}.get(self.frame.kind, "step output")

    def _embedding(self, spec: EmbeddingSpec, index: int) -> tuple[np.ndarray, tuple[int, int]]:
        if spec.type == "stored":
            return self._stored(spec, index), (0, 0)
        from mirror_neuron.analysis.embeddings import embed, resolve_model

        for text in spec.text:
            if text not in self.frame.table:
                raise ConfigError(f"embedding '{spec.id}' reads the {text} text, which this {self._source_kind()} "
                                  f"lacks; its texts: {', '.join(self.frame.texts)}",
                                  self.where(("compute", index, "text"), ("compute", index)))
        texts = [t if isinstance(t, str) else "" for text in spec.text for t in self.frame.table[text]]
        model = resolve_model(spec.path, self.config_dir)
        vectors, stats = embed(texts, model, spec.batch_size, progress=self.say)
        rows = len(self.frame.table)
        return np.hstack(np.split(vectors, len(spec.text))) if rows else vectors, (stats.computed, stats.cached)

    def _stored(self, spec: EmbeddingSpec, index: int) -> np.ndarray:
        at = self.where(("compute", index, "tensor"), ("compute", index))
        if self.frame.kind not in ("pairs", "rows"):
            raise ConfigError("type 'stored' reads tensors of a RewardModel query", at)
        try:
            tensor = self.read_tensor(spec.tensor or "")
        except (FileNotFoundError, KeyError):
            raise ConfigError(f"the query stored no tensor '{spec.tensor}'; add it to the query's store list",
                              at) from None
        return tensor.reshape(len(tensor), -1).astype(np.float32)

    # -- predictions ---------------------------------------------------------------------------------

    def predict(self) -> None:
        config = self.spec
        targets = [task.target for task in config.predict]
        settings = Settings(config.folds, config.bootstrap, config.importance_repeats, self.seed)
        estimators = {spec.id: spec for spec in config.estimators}
        groups = self.frame.table["group"].to_numpy()
        for index, spec in enumerate(config.predict):
            name = spec.target if targets.count(spec.target) == 1 else f"{spec.target}/{spec.estimator}"
            y = self._target(spec.target, ("predict", index, "target"), ("predict", index))
            keep = np.isfinite(y)
            chosen = estimators[spec.estimator]
            task = Task(name, spec.target, y[keep], self._design(spec.x, keep),
                        self._design(self._baseline_features(index), keep), groups[keep],
                        build(chosen.name, chosen.args), chosen.id)
            started = time.monotonic()
            self.say(f"predicting {name} from {', '.join(spec.x)} with {chosen.name} "
                          f"({index + 1}/{len(config.predict)}, {int(keep.sum())} rows)")
            try:
                outcome = evaluate(task, settings)
            except ValueError as error:
                raise ConfigError(str(error), self.where(("predict", index))) from None
            self.results.append((task, outcome, keep))
            verdict = outcome.verdict
            metric = verdict.evidence["metric"]
            self.summary[f"{metric}/{name}"] = float(verdict.estimate)
            self.summary[f"{metric}_length/{name}"] = float(verdict.evidence["baseline"])
            self.say(f"{name}: {verdict.verdict} ({time.monotonic() - started:.1f}s)")

    def _target(self, name: str, *at: KeyPath) -> np.ndarray:
        valid = self.frame.targets()
        if name not in valid:
            raise ConfigError(f"unknown target '{name}'{did_you_mean(name, valid)}; this {self._source_kind()} "
                              f"has: {', '.join(valid) or 'no numeric column'}", self.where(*at))
        return self.frame.table[name].astype(float).to_numpy()

    def _design(self, names: list[str], keep: np.ndarray) -> Design:
        columns, blocks, width = [], {}, 0
        for name in names:
            block_names = self._embedding_ids() if name == EMBEDDING else [name]
            for block in block_names:
                values = self.embeddings[block] if block in self.embeddings else self.features[block][:, None]
                columns.append(values[keep])
                blocks[block] = slice(width, width + values.shape[1])
                width += values.shape[1]
        return Design(np.hstack(columns).astype(float), blocks)

    # -- outputs -------------------------------------------------------------------------------------

    def tables(self) -> dict[str, pd.DataFrame]:
        """``data``, and once something was predicted ``metrics``, ``importance`` and ``verdicts``."""
        results = self.results
        tables = {"data": self._data()}
        if results:
            tables["metrics"] = pd.DataFrame([row for _, outcome, _ in results for row in outcome.metrics])
            tables["importance"] = pd.DataFrame([row for _, outcome, _ in results for row in outcome.importance])
            tables["verdicts"] = to_table([outcome.verdict for _, outcome, _ in results], ANALYSIS)
        return tables

    @property
    def log(self) -> str:
        """What the estimators printed."""
        return "".join(outcome.log for _, outcome, _ in self.results)

    def _data(self) -> pd.DataFrame:
        table = self.frame.table
        out = pd.DataFrame({c: table[c] for c in (*ID_COLUMNS, *self.frame.texts) if c in table})
        for name, values in self.features.items():
            out[name] = values
        for target in self.frame.targets():
            if target not in out:
                out[target] = table[target]
        for task, outcome, keep in self.results:
            for prefix, values in (("predicted", outcome.predicted), ("length_predicted", outcome.baseline_predicted)):
                column = np.full(len(table), np.nan)
                column[keep] = values
                out[f"{prefix}.{task.name}"] = column
        return out.reset_index(drop=True)

    def plot(self, file: Callable[[str], Path]) -> None:
        """Draw every plot into ``file("plots/<name>.png")`` (a function giving the path of a new file)."""
        config = self.spec
        shown: list[str] = []
        for index, plot in enumerate(config.plot):
            y = self._target(plot.target, ("plot", index, "target"), ("plot", index, plot.target), ("plot", index))
            keep = np.isfinite(y)
            for feature in plot.features or config.features:
                path = file("plots/" + plots.file_name(plot.target, "vs", feature))
                plots.target_vs_feature(path, self.features[feature][keep], y[keep], feature, plot.target)
            shown.append(plot.target)
        for task, outcome, _ in self.results:
            if not any(row.get("r2") is not None for row in outcome.metrics):
                continue  # classifiers: the metrics table says it
            path = file("plots/" + plots.file_name(task.name, "predicted_vs_actual"))
            plots.predicted_vs_actual(path, task.y, {task.estimator_id: outcome.predicted,
                                                     "length baseline": outcome.baseline_predicted}, task.target)
            shown.append(task.target)
        for target in dict.fromkeys(shown):
            y = self.frame.table[target].astype(float).to_numpy()
            path = file("plots/" + plots.file_name(target, "distribution"))
            plots.distribution(path, y[np.isfinite(y)], target)
