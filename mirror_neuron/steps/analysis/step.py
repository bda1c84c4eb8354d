"""``entrypoint: analysis``: explain what drives a query's outputs.

Computes text features and embeddings over the required output (see
:mod:`mirror_neuron.analysis.sources`), predicts each target by cross-validation beside a length-only
baseline, and plots. Tables: ``data`` (per row: ids, texts, features, targets, out-of-fold
predictions; no vectors), ``metrics`` (per target and model: R², MAE, Spearman's rho, or accuracy and
ROC AUC, with 95% bootstrap intervals), ``importance`` (permutation importance per input) and
``verdicts`` (one sentence per target). Figures under ``plots/``; what estimators print goes to
``logs/estimators.log``. The output is one chunk: embeddings are cached, so a rerun is cheap.
"""

from __future__ import annotations

import json
from typing import Any

from mirror_neuron.analysis import features as feature_table
from mirror_neuron.analysis.estimators import EstimatorArgError, build, estimator_class
from mirror_neuron.analysis.spec import EMBEDDING, EmbeddingSpec
from mirror_neuron.errors import ConfigError, did_you_mean
from mirror_neuron.registry import component
from mirror_neuron.steps.analysis.config import AnalysisConfig
from mirror_neuron.steps.base import Step
from mirror_neuron.store import ChunkWriter, StepOutput
from mirror_neuron.yaml_source import KeyPath

SUMMARY_FILE = "summary.json"
LOG_FILE = "logs/estimators.log"


@component("analysis", "analysis",
           summary="features and embeddings, cross-validated estimators beside a length baseline, verdicts, plots")
class AnalysisStep(Step):
    section = "analysis"
    config_class = AnalysisConfig
    config: AnalysisConfig

    # -- before anything runs ------------------------------------------------------------------------

    def resolve(self) -> dict[str, Any]:
        """Check names across the entry (features, embedding ids, estimators and their arguments)."""
        from mirror_neuron.analysis.embeddings import resolve_model

        config = self.config
        for index, name in enumerate(config.compute):
            if isinstance(name, str):
                self._feature(name, ("compute", index))
        ids = [spec.id for spec in config.embeddings]
        for index, spec in enumerate(config.compute):
            if isinstance(spec, EmbeddingSpec) and ids.count(spec.id) > 1:
                raise ConfigError(f"duplicate embedding id '{spec.id}'", self._where(("compute", index, "id")))
        estimator_ids = [spec.id for spec in config.estimators]
        for index, spec in enumerate(config.estimators):
            self._check_estimator(index, spec.name, spec.args)
        for index, task in enumerate(config.predict):
            if task.estimator not in estimator_ids:
                raise ConfigError(f"unknown estimator '{task.estimator}'{did_you_mean(task.estimator, estimator_ids)}; "
                                  f"defined: {', '.join(estimator_ids) or 'none (add one under estimators)'}",
                                  self._where(("predict", index, "estimator")))
            for j, name in enumerate(task.x):
                self._input(name, ("predict", index, "x", j), ("predict", index, "x"))
            for j, name in enumerate(task.baseline or []):
                self._feature(name, ("predict", index, "baseline", j), ("predict", index, "baseline"))
        for index, plot in enumerate(config.plot):
            for j, name in enumerate(plot.features):
                self._feature(name, ("plot", index, "features", j), ("plot", index, plot.target, j))
        resolved = super().resolve()
        resolved["seed"] = self.seed
        resolved["embedding_models"] = {spec.id: resolve_model(spec.path, self.context.config_dir).identity
                                        for spec in config.embeddings if spec.type == "sentence"}
        return resolved

    @property
    def seed(self) -> int:
        return self.config.seed if self.config.seed is not None else self.context.seed

    def _where(self, *paths: KeyPath) -> str:
        """Where to point an error: the first of ``paths`` that the file spells out (else the first)."""
        lines = self.context.source.lines
        found = next((p for p in paths if self.context.key_path + p in lines), paths[0])
        return self.context.where(*found)

    def _feature(self, name: str, *at: KeyPath) -> None:
        try:
            feature_table.get(name)
        except ValueError as error:
            raise ConfigError(str(error), self._where(*at)) from None

    def _input(self, name: str, *at: KeyPath) -> None:
        ids = [spec.id for spec in self.config.embeddings]
        if name == EMBEDDING and not ids:
            raise ConfigError("x names 'embedding' but compute has no embedding entry", self._where(*at))
        if name in ids or name == EMBEDDING or name in feature_table.FEATURES:
            return
        valid = [*ids, EMBEDDING, *feature_table.FEATURES]
        raise ConfigError(f"unknown input '{name}'{did_you_mean(name, valid)}; x takes features, embedding ids "
                          f"({', '.join(ids) or 'none computed'}) or 'embedding'", self._where(*at))

    def _check_estimator(self, index: int, name: str, args: dict[str, Any]) -> None:
        try:
            estimator_class(name)
        except ValueError as error:
            raise ConfigError(str(error), self._where(("estimators", index, "name"))) from None
        try:
            build(name, args)
        except EstimatorArgError as error:
            at = ("estimators", index, "args", error.argument) if error.argument else ("estimators", index, "args")
            raise ConfigError(str(error), self._where(at)) from None

    # -- the work ------------------------------------------------------------------------------------

    def run(self, inputs: dict[str, StepOutput], writer: ChunkWriter) -> dict[str, float]:
        if writer.completed:  # the single chunk is stored: only the commit was interrupted
            return json.loads(writer.chunk_file(0, SUMMARY_FILE).read_text())
        from mirror_neuron.analysis.sources import load_frame
        from mirror_neuron.analysis.work import Analysis

        source = self._source(inputs)
        checked = getattr(self, "_checked", None)  # the frame preflight read, when it is this very output
        frame = checked[1] if checked is not None and checked[0] == _identity(source) else load_frame(source)
        analysis = Analysis(self.config, frame, seed=self.seed, config_dir=self.context.config_dir,
                            where=self._where, say=self.say, read_tensor=source.tensor)
        analysis.check_targets()
        analysis.compute()
        analysis.predict()
        with writer.chunk() as chunk:
            for name, table in analysis.tables().items():
                chunk.table(name, table)
            if analysis.log:
                chunk.file(LOG_FILE).write_text(analysis.log)
            analysis.plot(chunk.file)
            chunk.file(SUMMARY_FILE).write_text(json.dumps(analysis.summary))
        return analysis.summary

    def preflight(self, stored: dict[str, StepOutput]) -> None:
        """With everything it requires stored already, its targets are checked against that output now,
        before tracking starts (a query computed by this run is checked when the analysis runs)."""
        if set(stored) != set(self.config.requires):
            return
        from mirror_neuron.analysis.sources import load_frame
        from mirror_neuron.analysis.work import Analysis

        source = self._source(stored)
        try:
            frame = load_frame(source)
        except Exception:  # a damaged output: the run sets it aside and computes it again, then checks
            return
        Analysis(self.config, frame, seed=self.seed, config_dir=self.context.config_dir, where=self._where,
                 say=self.say, read_tensor=source.tensor).check_targets()
        self._checked = (_identity(source), frame)  # read once: the run reuses it

    def _source(self, inputs: dict[str, StepOutput]) -> StepOutput:
        outputs = list(inputs.values())
        queries = [o for o in outputs if o.manifest["kind"] == "query"]
        chosen = queries if queries else [o for o in outputs if o.table_path().exists()]
        if len(chosen) != 1:
            raise ConfigError("an analysis requires one query (or one other step with a data table), "
                              f"got {len(chosen)}; add one analysis entry per query", self.context.where("requires"))
        return chosen[0]

    def say(self, message: str) -> None:
        from mirror_neuron.log import say

        say(f"analysis '{self.config.id}': {message}")


def _identity(output: StepOutput) -> tuple[str, str]:
    """Which stored output this is: its folder and when it finished (an output set aside and computed
    again between preflight and the run is another)."""
    return str(output.path), str(output.manifest.get("finished_at"))
