"""Challenger: an online River model learning from labels, scored next to the deployed model.

For each deployed model, :class:`Challenger` keeps one online model that learns from the
joined (features, label) pairs. Scoring is prequential: on each pair the online model
predicts *before* it learns the label, so every score is on a pair it had not seen.
Both its prediction and the deployed model's are scored against the label with the same
River metric, over a rolling window and cumulatively. When, with enough labelled pairs,
the challenger leads the deployed model on the rolling metric by a margin, a
:class:`Promotion` carries the evidence; it is reported once, and again only after the
challenger has fallen behind in between.

The linear models (:data:`~monitors.online.models.MINI_BATCH_MODELS`) learn in mini-batches of
a fixed size, ``batch_size`` pairs of one deployed model: a pair is scored on arrival, by the model as it
was before its batch, and waits in that model's batch until the batch is full, then the
batch is learned in one step (:mod:`monitors.online.minibatch`). Batches are cut by counting a
model's pairs, so what a challenger learns depends only on the order of its pairs, never on
how they were handed over (one by one or in chunks, :meth:`Challenger.learn` or
:meth:`Challenger.learn_many`, with a checkpoint in between: the waiting pairs are part of
the pickle). The trees learn pair by pair.

Models come from :mod:`monitors.online.models`; every pipeline starts with its
:func:`~monitors.online.models.prepare`, which turns a feature mapping into River-ready
floats. Everything here pickles (the worker
checkpoints challengers next to its Kafka offsets) and a model keeps learning after a
round trip.
"""

# Over 500 lines on purpose: the challenger and the track it keeps per deployed model
# (scores, the waiting batch, what a checkpoint holds of it) are one piece of state, read
# best together; the models it learns with are in monitors.online.models.

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from river import compose, metrics

from monitors.online import minibatch
from monitors.online.models import MINI_BATCH_MODELS, MODEL_TASKS, Task, build_model, prepare

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "METRICS",
    "Challenger",
    "ChallengerState",
    "Labelled",
    "Promotion",
]

Labelled = tuple[str, Mapping[str, Any], Any, Any, bool]
"""A labelled pair for :meth:`Challenger.learn_many`: model, features, deployed prediction, label, learn."""


METRICS: Mapping[str, tuple[Task, type[metrics.base.Metric]]] = {
    "accuracy": ("classification", metrics.Accuracy),
    "balanced_accuracy": ("classification", metrics.BalancedAccuracy),
    "f1": ("classification", metrics.F1),
    "mae": ("regression", metrics.MAE),
    "rmse": ("regression", metrics.RMSE),
    "r2": ("regression", metrics.R2),
}
"""Metric names, with their task and River class; each can be reverted, so it can roll."""

_DEFAULT_METRIC: Mapping[Task, str] = {"classification": "accuracy", "regression": "mae"}

DEFAULT_BATCH_SIZE = 1
"""Pairs of one deployed model per mini-batch of a linear challenger, unless told otherwise: one, River's ``learn_one``.

Mini-batches cost less CPU per pair only from about 32 pairs, and a model taking one step a
batch follows a change of concept far more slowly (``bench/learner.py --sizes``, BENCHMARKS.md).
"""


@dataclass(frozen=True)
class Promotion:
    """The evidence that a challenger beats the deployed model.

    Scores are the metric over the last ``window`` pairs both were scored on (rolling)
    and over all of them (cumulative); ``margin`` is the lead that was required.

    Examples
    --------
    >>> p = Promotion("churn", "hoeffding_adaptive_tree", "accuracy", 0.88, 0.7, 0.02, 1000, 1000, 0.85, 0.7)
    >>> round(p.challenger_score - p.deployed_score, 2) >= p.margin
    True
    """

    model: str
    challenger: str
    metric: str
    challenger_score: float
    deployed_score: float
    margin: float
    labelled: int
    window: int
    challenger_cumulative: float
    deployed_cumulative: float


@dataclass(frozen=True)
class ChallengerState:
    """One model's challenger, summed up for people (``streammon models``).

    Scores are rolling and cumulative as in :class:`Promotion`, None before the first
    labelled pair. ``learned`` counts the pairs it learned from, which is fewer than
    ``labelled`` when learning was paused and while pairs wait in a mini-batch not full
    yet (``Challenger``'s ``batch_size``); ``paused`` is whether the last pair was scored
    without learning; ``promoted`` whether a promotion stands (it has not fallen behind
    since).

    Examples
    --------
    >>> s = ChallengerState("churn", "logistic_regression", "accuracy", 0, 0, None, None, None, None, False, False)
    >>> s.labelled, s.promoted
    (0, False)
    """

    model: str
    challenger: str
    metric: str
    labelled: int
    learned: int
    challenger_score: float | None
    deployed_score: float | None
    challenger_cumulative: float | None
    deployed_cumulative: float | None
    paused: bool
    promoted: bool


class _Track:
    """One deployed model's challenger and scores.

    ``estimator`` is the whole pipeline (the one exported, which takes raw features);
    ``prepared`` is a pipeline of the same step objects without the leading
    :func:`prepare`, for features prepared already, so learning through either updates
    both. It is derived, so it is left out of the pickle and rebuilt after it.
    ``waiting`` holds the pairs (prepared features, label) of the mini-batch not full yet:
    scored, not learned; pickled, so a restored challenger completes the same batch.
    """

    def __init__(self, estimator: compose.Pipeline, metric: type[metrics.base.Metric], window: int) -> None:
        self.estimator = estimator
        # A River pipeline caches its plan in itself (so in its pickle) on first use, which
        # was the first pair's predict_one and now, as pairs go through ``prepared``, would
        # be whatever reads the estimator first. Built here (an empty x changes no state),
        # so the estimator pickles the same whether or not anything has read it.
        estimator.transform_one({})
        self.prepared = _without_prepare(estimator)
        # The rolling metrics share one window of (label, challenger, deployed) pairs: both
        # are scored on the same pairs, so one deque serves where two utils.Rolling would.
        self.recent: deque[tuple[Any, Any, Any]] = deque(maxlen=window)
        self.challenger_rolling = metric()
        self.deployed_rolling = metric()
        self.challenger_total = metric()
        self.deployed_total = metric()
        self.waiting: list[tuple[dict[str, float], Any]] = []
        self.labelled = 0
        self.learned = 0
        self.paused = False
        self.promoted = False

    def score(self, label: Any, challenger: Any, deployed: Any) -> None:
        """Score one pair for both models, rolling and cumulative."""
        recent = self.recent
        if len(recent) == recent.maxlen:
            # As utils.Rolling does: revert the pair leaving the window, then update, so
            # the metrics go through the same operations and give the same scores.
            old_label, old_challenger, old_deployed = recent[0]
            self.challenger_rolling.revert(old_label, old_challenger)
            self.deployed_rolling.revert(old_label, old_deployed)
        self.challenger_rolling.update(label, challenger)
        self.deployed_rolling.update(label, deployed)
        recent.append((label, challenger, deployed))
        self.challenger_total.update(label, challenger)
        self.deployed_total.update(label, deployed)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["prepared"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "recent" not in state:
            # A checkpoint from before the shared window: a utils.Rolling per model, over
            # the same labels; its window holds ((label, prediction), {}) per pair.
            challenger, deployed = state["challenger_rolling"], state["deployed_rolling"]
            state["challenger_rolling"], state["deployed_rolling"] = challenger.obj, deployed.obj
            state["recent"] = deque(
                ((label, c, d) for ((label, c), _), ((_, d), _) in zip(challenger.window, deployed.window)),
                maxlen=challenger.window_size,
            )
        state.setdefault("waiting", [])  # a checkpoint from before mini-batches: nothing waits
        self.__dict__.update(state)
        self.prepared = _without_prepare(self.estimator)


def _without_prepare(estimator: compose.Pipeline) -> compose.Pipeline:
    # Pipeline keeps the step objects it is given (no copies), under the same names.
    return compose.Pipeline(*itertools.islice(estimator.steps.items(), 1, None))


class Challenger:
    """One online model per deployed model, learning from labelled pairs, scored prequentially.

    Parameters
    ----------
    model_name
        One of :data:`~monitors.online.models.ONLINE_MODELS`; its task must be ``task``.
    params
        Parameters of the River model.
    task
        ``classification`` or ``regression``.
    metric
        One of :data:`METRICS` for ``task``; accuracy for classification and MAE for
        regression by default. Its direction (River's ``bigger_is_better``) is respected.
    window
        Pairs in the rolling scores that decide a promotion.
    margin
        The lead on the rolling metric, in the metric's units, needed for a promotion.
        The promotion stands until the challenger falls behind (its rolling score worse
        than the deployed model's), so a lead hovering at the margin does not flap.
    min_labelled
        Pairs both must have been scored on before any promotion.
    batch_size
        Pairs of one deployed model per mini-batch of the linear models
        (:data:`~monitors.online.models.MINI_BATCH_MODELS`); 1 learns pair by pair, through River's own ``learn_one``.
        A pair is scored when it comes, by the model as it was before its batch, and waits,
        learned with the rest of its batch once the batch is full: the model lags behind
        the pairs scored by at most ``batch_size - 1`` pairs, and a deployed model with
        fewer labels than that has not learned yet. Nothing but pairs fills a batch (no
        clock), so the batches are the same however and whenever the pairs come. Pairs
        scored without learning (``learn=False``) take no place in a batch. The trees
        learn pair by pair whatever the size.

    Examples
    --------
    >>> import random
    >>> from river.datasets import synth
    >>> rng = random.Random(1)
    >>> challenger = Challenger("hoeffding_adaptive_tree", window=300, min_labelled=300)
    >>> for x, y in synth.Agrawal(seed=42).take(600):
    ...     deployed = y if rng.random() > 0.3 else 1 - y  # a deployed model wrong 30 % of the time
    ...     promotion = challenger.learn("churn", x, deployed, y)
    ...     if promotion:
    ...         print(promotion.labelled, round(promotion.challenger_score, 2), round(promotion.deployed_score, 2))
    300 0.83 0.68
    >>> state = challenger.state("churn")
    >>> state.labelled, state.promoted, round(state.challenger_score, 2)
    (600, True, 0.82)

    Prequential per batch: in batches of 3, each pair is predicted by the model as it was
    before its batch was learned; the fourth pair, the first of the second batch, is the
    first predicted by a model that has learned anything.

    >>> linear = Challenger("logistic_regression", batch_size=3)
    >>> for x in (1.0, 2.0, 1.5, 1.0, 2.0):
    ...     _ = linear.learn("churn", {"x": x}, True, True)
    ...     state = linear.state("churn")
    ...     print(state.labelled, state.learned, state.challenger_cumulative)
    1 0 0.0
    2 0 0.0
    3 3 0.0
    4 3 0.25
    5 3 0.4
    """

    # Checkpoints from before the option unpickle without it: they learn pair by pair, as
    # they did (nothing of theirs waits).
    batch_size: int = 1

    def __init__(
        self,
        model_name: str = "logistic_regression",
        params: Mapping[str, Any] | None = None,
        task: Task = "classification",
        metric: str | None = None,
        window: int = 1000,
        margin: float = 0.02,
        min_labelled: int = 1000,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if task not in _DEFAULT_METRIC:
            raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
        build_model(model_name, params)  # fail now on a bad name or parameters, not on a pair
        if MODEL_TASKS[model_name] != task:
            choices = ", ".join(name for name, t in MODEL_TASKS.items() if t == task)
            raise ValueError(f"online model {model_name!r} is for {MODEL_TASKS[model_name]}; for {task} choose one of {choices}")
        metric = _DEFAULT_METRIC[task] if metric is None else metric
        if metric not in METRICS or METRICS[metric][0] != task:
            choices = ", ".join(name for name, (t, _) in METRICS.items() if t == task)
            raise ValueError(f"unknown metric {metric!r} for {task}; choose one of {choices}")
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if margin < 0:
            raise ValueError(f"margin must be at least 0, got {margin}")
        if min_labelled < 1:
            raise ValueError(f"min_labelled must be at least 1, got {min_labelled}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_name = model_name
        self.params: Mapping[str, Any] = dict(params or {})
        self.task = task
        self.metric = metric
        self.window = window
        self.margin = margin
        self.min_labelled = min_labelled
        self.batch_size = batch_size
        self._bigger_is_better: bool = METRICS[metric][1]().bigger_is_better
        self._tracks: dict[str, _Track] = {}

    @property
    def models(self) -> tuple[str, ...]:
        """The deployed models seen so far, sorted."""
        return tuple(sorted(self._tracks))

    def learn(
        self, model: str, features: Mapping[str, Any], deployed_prediction: Any, label: Any, *, learn: bool = True
    ) -> Promotion | None:
        """Score one labelled pair of ``model`` for both models, then (``learn``) learn from it.

        The challenger predicts before it learns; a linear model learns the pair with the
        rest of its batch (``batch_size``). With ``learn=False`` the pair is scored but not
        learned from, the state reads paused, and no promotion is made (the worker pauses
        learning when labels look untrustworthy, and they are no better evidence).

        Returns
        -------
        Promotion or None
            A promotion when the challenger first leads by ``margin`` on the rolling
            metric with at least ``min_labelled`` pairs, or first again after falling behind.

        Raises
        ------
        ValueError
            For a feature :func:`prepare` cannot use, a regression label or prediction
            that is not a finite number, or a label that is not 0/1 for logistic regression.
        """
        if not self._batches:
            return self._learn_one(model, features, deployed_prediction, label, learn)
        (result,) = self.learn_many([(model, features, deployed_prediction, label, learn)])
        if isinstance(result, Exception):
            raise result
        return result

    def learn_many(self, pairs: Sequence[Labelled]) -> list[Promotion | Exception | None]:
        """Score labelled pairs for both models and learn from them: what :meth:`learn` does to each, in order.

        Each pair is ``(model, features, deployed_prediction, label, learn)``, as :meth:`learn`
        takes them; the result has one item a pair, in order: its promotion, None, or the
        exception that made it unusable (what :meth:`learn` raises: the pair is neither scored
        nor learned, and the others go on).

        The result, the scores and the model are those of :meth:`learn` called on each pair in
        turn; only the cost differs: the linear models predict each deployed model's pairs of
        one batch (``batch_size``) in one matrix (:mod:`monitors.online.minibatch`).

        Examples
        --------
        >>> challenger = Challenger(min_labelled=2, margin=0.1, batch_size=2)
        >>> batch = [("churn", {"a": 1.0}, 0, 1, True), ("churn", {"a": "x"}, 0, "yes", True), ("churn", {"a": -1.0}, 1, 0, True)]
        >>> [type(result).__name__ for result in challenger.learn_many(batch)]
        ['NoneType', 'ValueError', 'Promotion']
        >>> state = challenger.state("churn")
        >>> state.labelled, state.learned, state.challenger_score, state.deployed_score
        (2, 2, 0.5, 0.0)

        Both usable pairs were predicted by the model before their batch (False, a tie at
        even odds), and the second was right; then the model learned both.
        """
        results: list[Promotion | Exception | None] = [None] * len(pairs)
        positions: dict[str, list[int]] = {}
        for i, pair in enumerate(pairs):
            positions.setdefault(pair[0], []).append(i)
        for model, indices in positions.items():
            if self._batches:
                self._learn_batches(model, [pairs[i] for i in indices], indices, results)
                continue
            for i in indices:
                try:
                    results[i] = self._learn_one(*pairs[i][:4], learn=pairs[i][4])
                except (ValueError, TypeError) as exc:  # TypeError: River's, on a label of the wrong kind
                    results[i] = exc
        return results

    @property
    def _batches(self) -> bool:
        return self.batch_size > 1 and self.model_name in MINI_BATCH_MODELS

    def _learn_one(
        self, model: str, features: Mapping[str, Any], deployed_prediction: Any, label: Any, learn: bool
    ) -> Promotion | None:
        label, deployed_prediction = self._check(model, label, deployed_prediction)
        x = prepare(features)
        track = self._new_track(model)
        # Prequential: predict first, so the score is on a pair the model has not learned.
        # Through the steps after prepare: x is prepared, and prepare(x) == x, so the
        # pipeline's own prepare would only make it again (twice a pair).
        self._score(track, label, track.prepared.predict_one(x), deployed_prediction, learn)
        if learn:
            track.prepared.learn_one(x, label)
            track.learned += 1
        return self._promotion(model, track)

    def _learn_batches(
        self, model: str, pairs: list[Labelled], indices: list[int], results: list[Promotion | Exception | None]
    ) -> None:
        usable: list[tuple[int, dict[str, float], Any, Any, bool]] = []  # position, row, deployed prediction, label, learn
        for i, (_, features, deployed_prediction, label, learn) in zip(indices, pairs, strict=True):
            try:
                label, deployed_prediction = self._check(model, label, deployed_prediction)
                usable.append((i, prepare(features), deployed_prediction, label, learn))
            except ValueError as exc:
                results[i] = exc
        if not usable:
            return
        track = self._new_track(model)
        start = 0
        while start < len(usable):
            # The pairs up to the one that fills the waiting batch (or all that are left): the
            # model does not change among them, so they are predicted together.
            room, end = self.batch_size - len(track.waiting), start
            while end < len(usable) and room:
                room -= usable[end][4]
                end += 1
            piece = usable[start:end]
            whole = not track.waiting and room == 0 and end - start == self.batch_size  # the piece is a whole batch
            matrix = minibatch.Rows.of([row for _, row, _, _, _ in piece])
            predictions = minibatch.predict_many(track.prepared, matrix)
            for (i, row, deployed_prediction, label, learn), predicted in zip(piece, predictions, strict=True):
                self._score(track, label, predicted, deployed_prediction, learn)
                results[i] = self._promotion(model, track)
                if learn:
                    track.waiting.append((row, label))
            if len(track.waiting) == self.batch_size:
                rows, labels = zip(*track.waiting)
                # The batch's matrix is the piece's when they hold the same rows: built from
                # the same rows in the same order, it would be the same matrix.
                minibatch.learn_many(track.prepared, matrix if whole else minibatch.Rows.of(rows), labels)
                track.learned += len(track.waiting)
                track.waiting = []
            start = end

    def _new_track(self, model: str) -> _Track:
        track = self._tracks.get(model)
        if track is None:
            track = self._tracks[model] = _Track(build_model(self.model_name, self.params), METRICS[self.metric][1], self.window)
        return track

    def _score(self, track: _Track, label: Any, predicted: Any, deployed_prediction: Any, learn: bool) -> None:
        track.score(label, predicted, deployed_prediction)
        track.labelled += 1
        track.paused = not learn

    def _promotion(self, model: str, track: _Track) -> Promotion | None:
        lead = self._lead(track.challenger_rolling.get(), track.deployed_rolling.get())
        if lead < 0:
            track.promoted = False  # fell behind: a later lead is news again
        if track.promoted or track.paused or track.labelled < self.min_labelled or lead < self.margin:
            return None
        track.promoted = True
        return Promotion(
            model=model,
            challenger=self.model_name,
            metric=self.metric,
            challenger_score=track.challenger_rolling.get(),
            deployed_score=track.deployed_rolling.get(),
            margin=self.margin,
            labelled=track.labelled,
            window=self.window,
            challenger_cumulative=track.challenger_total.get(),
            deployed_cumulative=track.deployed_total.get(),
        )

    def state(self, model: str) -> ChallengerState:
        """The readable state of ``model``'s challenger.

        Raises
        ------
        KeyError
            For a model with no labelled pair yet.
        """
        track = self._track(model)
        scored = track.labelled > 0
        return ChallengerState(
            model=model,
            challenger=self.model_name,
            metric=self.metric,
            labelled=track.labelled,
            learned=track.learned,
            challenger_score=track.challenger_rolling.get() if scored else None,
            deployed_score=track.deployed_rolling.get() if scored else None,
            challenger_cumulative=track.challenger_total.get() if scored else None,
            deployed_cumulative=track.deployed_total.get() if scored else None,
            paused=track.paused,
            promoted=track.promoted,
        )

    def estimator(self, model: str) -> compose.Pipeline:
        """``model``'s online model (the pipeline itself, for export; it keeps learning).

        It has learned the pairs of its full mini-batches (``state(model).learned`` of them),
        not those waiting in the batch not full yet.

        Raises
        ------
        KeyError
            For a model with no labelled pair yet.
        """
        return self._track(model).estimator

    def _track(self, model: str) -> _Track:
        try:
            return self._tracks[model]
        except KeyError:
            raise KeyError(f"no challenger for model {model!r} yet; known: {', '.join(self.models) or 'none'}") from None

    def _lead(self, challenger: float, deployed: float) -> float:
        return challenger - deployed if self._bigger_is_better else deployed - challenger

    def _check(self, model: str, label: Any, deployed_prediction: Any) -> tuple[Any, Any]:
        if self.task == "regression":
            try:
                label, deployed_prediction = float(label), float(deployed_prediction)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{model}: regression needs numbers, got label {label!r}, prediction {deployed_prediction!r}"
                ) from exc
            if not (math.isfinite(label) and math.isfinite(deployed_prediction)):
                raise ValueError(f"{model}: non-finite label {label!r} or prediction {deployed_prediction!r}")
        elif self.model_name == "logistic_regression" and (isinstance(label, str) or label not in (0, 1)):
            # River's logistic loss would read any other label as an integer, silently.
            raise ValueError(f"{model}: logistic regression is binary; labels must be 0/1 or booleans, got {label!r}")
        return label, deployed_prediction
