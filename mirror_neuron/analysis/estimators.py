"""scikit-learn estimators by class name, with their arguments checked before anything runs."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
from collections.abc import Iterator
from typing import Any

from mirror_neuron.errors import did_you_mean

# Looked in first, so that naming a usual estimator does not import every sklearn module.
USUAL_MODULES = ("sklearn.ensemble", "sklearn.linear_model", "sklearn.tree", "sklearn.neighbors", "sklearn.svm",
                 "sklearn.kernel_ridge", "sklearn.neural_network", "sklearn.dummy")
KINDS = ("regressor", "classifier")


class EstimatorArgError(ValueError):
    """A bad argument; ``argument`` names it (``None``: the arguments as a whole)."""

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


def estimator_class(name: str) -> type:
    """The scikit-learn regressor or classifier called ``name``; ``ValueError`` (did you mean) if none."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    for module_name in USUAL_MODULES:
        found = getattr(importlib.import_module(module_name), name, None)
        if isinstance(found, type) and issubclass(found, (RegressorMixin, ClassifierMixin)):
            return found
    everything = _all_estimators()
    if name in everything:
        return everything[name]
    from sklearn.utils import all_estimators

    other = dict(all_estimators())
    if name in other:
        raise ValueError(f"'{name}' is a scikit-learn estimator but neither a regressor nor a classifier")
    raise ValueError(f"unknown scikit-learn estimator '{name}'{did_you_mean(name, everything)}; any regressor or "
                     "classifier listed by sklearn.utils.all_estimators() works, e.g. GradientBoostingRegressor, "
                     "Ridge, RandomForestRegressor, LogisticRegression")


def _all_estimators() -> dict[str, type]:
    from sklearn.utils import all_estimators

    return dict(all_estimators(type_filter=list(KINDS)))


def build(name: str, args: dict[str, Any]) -> Any:
    """An unfitted estimator; raises :class:`EstimatorArgError` for an unknown or invalid argument."""
    cls = estimator_class(name)
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]
    for argument in args:
        if argument not in accepted:
            raise EstimatorArgError(f"{name} has no argument '{argument}'{did_you_mean(argument, accepted)}; "
                                    f"valid: {', '.join(accepted)}", argument)
    try:
        estimator = cls(**args)
        validate = getattr(estimator, "_validate_params", None)
        if validate is not None:
            validate()  # scikit-learn checks values only when fitting; check them now
    except (TypeError, ValueError) as error:
        message = " ".join(str(error).split())
        named = re.match(r"The '(\w+)' parameter", message)
        raise EstimatorArgError(message, named.group(1) if named and named.group(1) in args else None) from None
    return estimator


def is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier as check

    return bool(check(estimator))


@contextlib.contextmanager
def captured(log: io.StringIO) -> Iterator[None]:
    """Send what estimators print (``verbose: 1``) to ``log`` instead of the terminal."""
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield
