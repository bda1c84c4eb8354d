"""What an analysis computes, predicts and plots over one frame: the specs its config is made of.

The analysis step's config (:class:`mirror_neuron.steps.analysis.config.AnalysisConfig`) is an
:class:`AnalysisSpec` with the keys every step has; :class:`mirror_neuron.analysis.work.Analysis`
does what a spec says.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from mirror_neuron.analysis.features import TEXTS
from mirror_neuron.limits import AtMost
from mirror_neuron.models.embeddings import MINILM

EMBEDDING = "embedding"  # in `x`: every embedding the entry computes


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSpec(_Strict):
    """An embedding per row. ``type: sentence``: a sentence-transformers model (``path``: a hub id, a local
    folder, or ``minilm``) over one text or several (vectors concatenated); ``type: stored``: a tensor the
    required reward-model query stored (``tensor``: ``embeddings``, ``chosen_hidden_states``...)."""

    id: str = EMBEDDING
    type: Literal["sentence", "stored"] = "sentence"
    path: str = MINILM
    text: list[str] = ["question"]
    tensor: str | None = None
    batch_size: PositiveInt = 64

    @field_validator("text", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("text")
    @classmethod
    def _known_texts(cls, value: list[str]) -> list[str]:
        for text in value:
            if text not in TEXTS:
                raise ValueError(f"unknown text '{text}'; valid: {', '.join(TEXTS)}")
        return value

    @model_validator(mode="after")
    def _tensor_for_stored(self) -> EmbeddingSpec:
        if self.type == "stored" and not self.tensor:
            raise ValueError("type 'stored' needs tensor: the name of a tensor the query stored")
        return self


class EstimatorSpec(_Strict):
    """A scikit-learn regressor or classifier by class name, with its constructor arguments."""

    id: str
    name: str
    args: dict[str, Any] = {}


class PredictSpec(_Strict):
    """Predict ``target`` (a column of the required output) from ``x`` with an estimator, by cross-validation.
    ``baseline``: the features of the length-only baseline (default: the length of the scored text)."""

    target: str
    x: list[str]
    estimator: str
    baseline: list[str] | None = None

    @field_validator("x", "baseline", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class PlotSpec(_Strict):
    """Plot ``target`` against each feature (default: every feature in ``compute``)."""

    target: str
    features: list[str] = []


class AnalysisSpec(_Strict):
    """The features and embeddings to compute, the estimators, the predictions and the plots of one analysis."""

    compute: list[str | EmbeddingSpec] = []
    estimators: list[EstimatorSpec] = []
    predict: list[PredictSpec] = []
    plot: list[PlotSpec] = []
    folds: int = Field(5, ge=2)
    bootstrap: Annotated[PositiveInt, AtMost("resamples")] = 1000
    importance_repeats: Annotated[PositiveInt, AtMost("repetitions")] = 5

    @property
    def features(self) -> list[str]:
        return [item for item in self.compute if isinstance(item, str)]

    @property
    def embeddings(self) -> list[EmbeddingSpec]:
        return [item for item in self.compute if isinstance(item, EmbeddingSpec)]
