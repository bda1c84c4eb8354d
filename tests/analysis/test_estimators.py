"""Estimators by scikit-learn class name: the original's example builds; mistakes are named."""

from __future__ import annotations

import pytest

from mirror_neuron.analysis.estimators import EstimatorArgError, build, estimator_class

ORIGINAL_GBR = {"n_estimators": 100, "min_samples_leaf": 5, "validation_fraction": 0.1, "n_iter_no_change": 10,
                "random_state": 0, "verbose": 1, "subsample": 0.9}


def test_the_original_example_builds_as_written() -> None:
    estimator = build("GradientBoostingRegressor", ORIGINAL_GBR)
    assert estimator.get_params()["n_iter_no_change"] == 10
    assert estimator_class("HistGradientBoostingClassifier").__name__ == "HistGradientBoostingClassifier"


def test_unknown_names_and_arguments_say_what_was_meant() -> None:
    with pytest.raises(ValueError, match="unknown scikit-learn estimator 'GradientBoostingRegresor' "
                                         r"\(did you mean 'GradientBoostingRegressor'"):
        estimator_class("GradientBoostingRegresor")
    with pytest.raises(ValueError, match="neither a regressor nor a classifier"):
        estimator_class("PCA")
    with pytest.raises(EstimatorArgError, match=r"no argument 'n_estimator' \(did you mean 'n_estimators'\?\)") as bad:
        build("GradientBoostingRegressor", {**ORIGINAL_GBR, "n_estimator": 5})
    assert bad.value.argument == "n_estimator"


def test_bad_values_are_caught_before_fitting() -> None:
    with pytest.raises(EstimatorArgError, match="subsample") as bad:
        build("GradientBoostingRegressor", {"subsample": 2.0})
    assert bad.value.argument == "subsample"
