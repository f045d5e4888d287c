"""The online models a challenger can be: River pipelines by name, and the features they take.

:data:`ONLINE_MODELS` names each model and its builder, :data:`MODEL_TASKS` its
task; :func:`build_model` makes a fresh one. Every pipeline starts with
:func:`prepare`, which turns a feature mapping into River-ready floats, so a
model exported for serving takes the features as producers publish them. The
linear models (:data:`MINI_BATCH_MODELS`) can learn in mini-batches
(:mod:`monitors.online.minibatch`); the trees learn pair by pair.

A pipeline's pickle names :func:`prepare` by its module, this one. Pickles
written before it moved here name :mod:`monitors.online.challenger`, which
still imports it; checkpoints map it here explicitly
(``streams.worker.checkpoint.MOVED_NAMES``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, Literal

from river import compose, linear_model, preprocessing, tree

__all__ = ["MINI_BATCH_MODELS", "MODEL_TASKS", "ONLINE_MODELS", "Task", "build_model", "prepare"]

Task = Literal["classification", "regression"]


def prepare(features: Mapping[str, Any]) -> dict[str, float]:
    """River-ready features: numbers as floats, booleans as 0/1, strings one-hot.

    A string feature ``name`` with value ``v`` becomes ``{"name=v": 1.0}``; None and
    non-finite numbers are dropped (River models read a missing key as absent, while one
    NaN would poison a scaler's running statistics for good).

    Raises
    ------
    ValueError
        For a value of any other type (a list, a mapping...), naming the feature.

    Examples
    --------
    >>> prepare({"age": 42, "vip": True, "plan": "gold", "score": None, "ratio": float("nan")})
    {'age': 42.0, 'vip': 1.0, 'plan=gold': 1.0}
    """
    prepared: dict[str, float] = {}
    for name, value in features.items():
        # By exact type first: features decoded from JSON are floats, strings, ints,
        # booleans and None, and an isinstance check against the Real ABC costs several
        # times a type comparison. Subclasses (NumPy numbers...) go the long way.
        kind = type(value)
        if kind is float:
            if math.isfinite(value):
                prepared[name] = value
        elif kind is str:
            prepared[f"{name}={value}"] = 1.0
        elif kind is int:
            prepared[name] = float(value)  # always finite: an int too large for a float raises
        elif kind is bool:
            prepared[name] = 1.0 if value else 0.0
        elif value is None:
            continue
        elif isinstance(value, Real):  # bool has no subclasses, so it was handled above
            number = float(value)
            if math.isfinite(number):
                prepared[name] = number
        elif isinstance(value, str):
            prepared[f"{name}={value}"] = 1.0
        else:
            raise ValueError(f"feature {name!r}: cannot use a {type(value).__name__} ({value!r}) as a River feature")
    return prepared


def _logistic_regression(**params: Any) -> compose.Pipeline:
    return compose.Pipeline(
        compose.FuncTransformer(prepare), preprocessing.StandardScaler(), linear_model.LogisticRegression(**params)
    )


def _linear_regression(**params: Any) -> compose.Pipeline:
    return compose.Pipeline(
        compose.FuncTransformer(prepare), preprocessing.StandardScaler(), linear_model.LinearRegression(**params)
    )


def _hoeffding_adaptive_tree(**params: Any) -> compose.Pipeline:
    # A fixed seed: the tree's bootstrap draws would otherwise make a replay learn differently.
    return compose.Pipeline(compose.FuncTransformer(prepare), tree.HoeffdingAdaptiveTreeClassifier(**{"seed": 0, **params}))


def _hoeffding_adaptive_tree_regressor(**params: Any) -> compose.Pipeline:
    return compose.Pipeline(compose.FuncTransformer(prepare), tree.HoeffdingAdaptiveTreeRegressor(**{"seed": 0, **params}))


ONLINE_MODELS: Mapping[str, Callable[..., compose.Pipeline]] = {
    "logistic_regression": _logistic_regression,
    "hoeffding_adaptive_tree": _hoeffding_adaptive_tree,
    "linear_regression": _linear_regression,
    "hoeffding_adaptive_tree_regressor": _hoeffding_adaptive_tree_regressor,
}
"""Online model names and their builders: keyword arguments go to the River model."""

MODEL_TASKS: Mapping[str, Task] = {
    "logistic_regression": "classification",
    "hoeffding_adaptive_tree": "classification",
    "linear_regression": "regression",
    "hoeffding_adaptive_tree_regressor": "regression",
}
"""The task of each online model. Logistic regression is binary: labels 0/1 or booleans."""

MINI_BATCH_MODELS: frozenset[str] = frozenset({"logistic_regression", "linear_regression"})
"""The online models that :meth:`monitors.online.challenger.Challenger.learn_many` scores and trains per batch (:mod:`monitors.online.minibatch`)."""


def build_model(name: str, params: Mapping[str, Any] | None = None) -> compose.Pipeline:
    """A fresh online model by name: :func:`prepare`, then (linear models) scaling, then the model.

    Raises
    ------
    ValueError
        For an unknown name or parameters River rejects.

    Examples
    --------
    >>> model = build_model("logistic_regression", {"l2": 0.001})
    >>> list(model.steps)
    ['prepare', 'StandardScaler', 'LogisticRegression']
    >>> build_model("xgboost")
    Traceback (most recent call last):
    ...
    ValueError: unknown online model 'xgboost'; choose one of logistic_regression, hoeffding_adaptive_tree, linear_regression, hoeffding_adaptive_tree_regressor
    """
    if name not in ONLINE_MODELS:
        raise ValueError(f"unknown online model {name!r}; choose one of {', '.join(ONLINE_MODELS)}")
    try:
        # A copy: a parameter such as an optimizer holds state, which models must not share.
        return ONLINE_MODELS[name](**copy.deepcopy(dict(params or {})))
    except (TypeError, ValueError) as exc:
        # River reports an unknown argument as a TypeError and a bad value as a ValueError.
        raise ValueError(f"bad parameters for online model {name!r} {dict(params or {})}: {exc}") from exc
