"""Mini-batches for River's linear pipelines: a standard scaler, then a linear model.

A mini-batch is a :class:`Rows`: prepared rows (feature name to float, as
:func:`monitors.online.models.prepare` makes them) in one matrix, built once for both uses.
:func:`predict_many` predicts every row with the model as it is; :func:`learn_many` updates it
with all the rows and their labels at once, as River's own ``learn_many`` does:
the scaler's running statistics take in the batch, the batch is scaled with them, and the linear
model takes *one* step along the batch's mean gradient (not one step per row: River says so of its
``learn_many``, and a model learning in batches of ``n`` takes ``n`` times fewer steps).

Why not River's ``learn_many`` itself: it goes through a dataframe layer whose cost is per call and
per column (about 1 ms a call at 36 columns, however few the rows), more than learning 25 rows
one at a time. Here the rows become one NumPy matrix and the linear model's own NumPy step
(River's, on that matrix) does the rest; on the same matrix, what the model learns is River's to
the last bit, but for a feature whose variance is still 0, which scales to 0 here as River's
``transform_one`` scales it (its ``transform_many`` leaves it centred only), so that the pipeline,
exported and predicting one row at a time, says what the batch path said. Predictions are River's
up to rounding: each row's dot product is summed on its own, so that it does not depend on the
rows predicted with it (a matrix product's does).

A feature absent from a row (or None, or NaN, which ``prepare`` drops) is *missing*, as when a
River model learns one row at a time: the scaler's statistics of that feature leave the row out,
and the row, scaled, reads 0 for it, so it adds nothing to the prediction or to the gradient.
(Filling it with a raw 0 instead would move the scaler's mean and variance towards 0; a one-hot
feature is absent from the rows of every other category, so the scaler only ever sees it at 1.)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from river import compose, linear_model, preprocessing

__all__ = ["Rows", "learn_many", "predict_many", "supports_mini_batches"]

Row = Mapping[str, float]


@dataclass(frozen=True)
class Rows:
    """Prepared rows as one matrix: a column per feature some row has (in the order first seen), NaN where a row has none.

    Examples
    --------
    >>> rows = Rows.of([{"a": 1.0, "plan=gold": 1.0}, {"a": 2.0, "plan=free": 1.0}])
    >>> rows.columns
    ['a', 'plan=gold', 'plan=free']
    >>> rows.matrix.tolist()
    [[1.0, 1.0, nan], [2.0, nan, 1.0]]
    >>> rows.take([1]).columns
    ['a', 'plan=free']
    """

    columns: list[str]
    matrix: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Rows:
        """The matrix of ``rows``."""
        # Built through C-level iteration (chain, map) rather than a lookup per row and column:
        # this is most of the batch path's own cost.
        columns = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
        index = {name: i for i, name in enumerate(columns)}
        matrix = np.full((len(rows), len(columns)), np.nan)
        lengths = [len(row) for row in rows]
        where = (
            np.repeat(np.arange(len(rows)), lengths),
            np.fromiter(map(index.__getitem__, itertools.chain.from_iterable(rows)), dtype=np.intp, count=sum(lengths)),
        )
        matrix[where] = np.fromiter(
            itertools.chain.from_iterable(row.values() for row in rows), dtype=np.float64, count=sum(lengths)
        )
        return cls(columns, matrix)

    def take(self, indices: Sequence[int]) -> Rows:
        """The rows at ``indices``, without the columns none of them has."""
        matrix = self.matrix[np.asarray(indices, dtype=np.intp)]
        has = ~np.isnan(matrix).all(axis=0)
        return Rows(list(itertools.compress(self.columns, has.tolist())), matrix[:, has])


def supports_mini_batches(pipeline: compose.Pipeline) -> bool:
    """Whether ``pipeline`` is a standard scaler, then a logistic or linear regression (the steps here).

    Examples
    --------
    >>> from river import tree
    >>> supports_mini_batches(compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression()))
    True
    >>> supports_mini_batches(compose.Pipeline(tree.HoeffdingAdaptiveTreeClassifier()))
    False
    """
    steps = list(pipeline.steps.values())
    return (
        len(steps) == 2
        and type(steps[0]) is preprocessing.StandardScaler
        and steps[0].window_size is None
        and isinstance(steps[1], (linear_model.LogisticRegression, linear_model.LinearRegression))
    )


def predict_many(pipeline: compose.Pipeline, rows: Rows) -> list[Any]:
    """What ``pipeline`` predicts for each row, as it is now: booleans (logistic) or floats (linear).

    A row's prediction does not depend on the other rows predicted with it: the same row,
    predicted alone or among any others, gives the same number to the last bit, so a batch
    predicted in pieces is predicted as it is whole. The model is not changed (River's scaler
    would record a feature it has not seen).

    Examples
    --------
    >>> model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())
    >>> learn_many(model, Rows.of([{"a": 1.0}, {"a": 3.0}]), [2.0, 6.0])
    >>> [round(y, 3) for y in predict_many(model, Rows.of([{"a": 3.0}, {}]))]
    [0.12, 0.08]
    >>> predict_many(model, Rows.of([{"a": 3.0}])) == predict_many(model, Rows.of([{"a": 3.0}, {"b": 1.0}]))[:1]
    True
    """
    scaler, linear = _steps(pipeline)
    # Only the features of some variance, in the scaler's order: every other feature (one the
    # scaler has not seen included) scales to 0 and adds nothing. Those columns and their order
    # change only when the model learns, not with the rows predicted together; and each row's
    # dot product is summed along its own row (a matrix product's sums depend on the matrix's
    # shape), so a row's prediction is the same whichever rows share its matrix.
    columns = [name for name, variance in scaler.vars.items() if variance > 0]
    index = {name: j for j, name in enumerate(columns)}
    taken = [i for i, name in enumerate(rows.columns) if name in index]
    values = np.full((len(rows.matrix), len(columns)), np.nan)
    values[:, [index[rows.columns[i]] for i in taken]] = rows.matrix[:, taken]
    scaled = _scale(Rows(columns, values), scaler)
    output = linear.loss.mean_func((scaled * linear._weights.to_numpy(columns)).sum(axis=1) + linear.intercept)
    if isinstance(linear, linear_model.LogisticRegression):
        output = output > 0.5  # as River's predict_many: True past even odds
    return list(output.tolist())


def learn_many(pipeline: compose.Pipeline, rows: Rows, labels: Sequence[Any]) -> None:
    """Update ``pipeline`` with the rows and their labels in one step (the module's docstring says which).

    Examples
    --------
    >>> model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())
    >>> learn_many(model, Rows.of([{"a": 1.0, "b": 1.0}, {"a": -1.0}]), [True, False])
    >>> model["StandardScaler"].counts == {"a": 2, "b": 1}
    True
    >>> {name: round(w, 3) for name, w in model["LogisticRegression"].weights.items()}
    {'a': 0.005, 'b': 0.0}
    """
    if not len(rows.matrix):
        return
    scaler, linear = _steps(pipeline)
    _learn_scaler(scaler, rows)
    scaled = _scale(rows, scaler)
    # River's own step on a NumPy matrix, as its learn_many takes it once past the dataframe.
    saved = linear._enter_learn_mode(set(rows.columns))
    try:
        linear._fit(x=rows.columns, y=np.asarray(labels), w=1, get_grad=functools.partial(linear._eval_gradient_many, scaled))
    finally:
        linear._exit_learn_mode(saved)


def _steps(pipeline: compose.Pipeline) -> tuple[preprocessing.StandardScaler, Any]:
    if not supports_mini_batches(pipeline):
        raise ValueError(f"no mini-batches for {pipeline}: a standard scaler, then a logistic or linear regression")
    scaler, linear = pipeline.steps.values()
    return scaler, linear


def _scale(rows: Rows, scaler: preprocessing.StandardScaler) -> np.ndarray:
    # River's transform_many, with .get (its defaultdicts would keep every feature read), and
    # 0 for a feature of no variance yet, as its transform_one says: the exported pipeline
    # predicts one row at a time, and must say what the batch was scored with.
    means = np.array([scaler.means.get(name, 0.0) for name in rows.columns], dtype=np.float64)
    stds = np.array([scaler.vars.get(name, 0.0) ** 0.5 for name in rows.columns], dtype=np.float64)
    scaled = np.zeros_like(rows.matrix)
    np.divide(rows.matrix - means, stds, where=stds > 0, out=scaled)
    scaled[np.isnan(scaled)] = 0.0  # missing: nothing to the prediction or the gradient
    return scaled


def _learn_scaler(scaler: preprocessing.StandardScaler, rows: Rows) -> None:
    # The batch's mean and variance of each feature, over the rows that have it, merged into
    # the running ones (Chan et al.'s pairwise update, the formulas of River's learn_many,
    # here for all features at once: the same operations on the same numbers). Every column
    # of a Rows has a value in some row, so no count is 0.
    present = ~np.isnan(rows.matrix)
    counts = present.sum(axis=0)
    filled = np.where(present, rows.matrix, 0.0)
    means = filled.sum(axis=0) / counts
    variances = np.einsum("ij,ij->j", filled, filled) / counts - means**2
    columns = rows.columns
    old_counts = np.array([scaler.counts[name] for name in columns], dtype=np.int64)
    old_means = np.array([scaler.means.get(name, 0.0) for name in columns], dtype=np.float64)
    old_variances = np.array([scaler.vars.get(name, 0.0) for name in columns], dtype=np.float64)
    a = old_counts / (old_counts + counts)
    b = counts / (old_counts + counts)
    scaler.means.update(zip(columns, (a * old_means + b * means).tolist()))
    scaler.vars.update(zip(columns, (a * old_variances + b * variances + a * b * (old_means - means) ** 2).tolist()))
    scaler.counts.update(dict(zip(columns, counts.tolist())))
