"""Predictions meet their labels, in event time.

Ground truth comes late, out of order, or never: a label may reach streammon
before its prediction (the labelling job read a replica), long after it, or not
at all. :class:`LabelJoin` pairs each prediction with its label by
``prediction_id``, whichever arrives first, and lets either side wait at most a
time-to-live (``ttl``) of *event time*:

- a prediction waits until ``predicted_at + ttl < now``, then expires
  unlabelled;
- a label that arrived first waits until ``labelled_at + ttl < now``, then is
  orphaned;
- a joined ``prediction_id`` is remembered (as long as a ttl, and at most
  ``capacity`` of them), so a second label for it is a duplicate, never a
  second pair.

``now`` is the event-time watermark the caller passes to
:meth:`LabelJoin.expire`; nothing here reads a clock. Deadlines sit in a heap,
so expiring is cheap whatever the order event times arrive in. Memory is
bounded by ``capacity`` waiting items (predictions and labels together), past
which the oldest arrival is evicted and counted; a caller that can wait for the
other side instead asks :meth:`LabelJoin.knows` first and holds the item back
(see :mod:`monitors.intake.backpressure`). Every outcome is counted per
model in :class:`JoinStats`.
"""

# Over 500 lines on purpose: one concept. The records are what the join takes, gives and
# counts (JoinStats' docstring is the join's counting rules), and most of the length is
# their docstrings and examples; apart, each half would be read with the other open.

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["JoinStats", "LabelJoin", "LabelledPair", "PendingPrediction"]

# What a heap entry's deadline is for.
_PREDICTION, _LABEL, _JOINED = 0, 1, 2

# A heap holding this many more entries than there are live items (plus the
# slack) is rebuilt: entries of items joined or evicted are removed lazily, and
# would otherwise pile up when expire() is called rarely or ttls are long.
_HEAP_SLACK = 64

# A segment bucket, ``(key, value)``, as the drift windows name it.
Segment = tuple[str, str]


def _check_aware(argument: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{argument} must be timezone-aware, got {moment!r}")


@dataclass(frozen=True)
class PendingPrediction:
    """A prediction waiting for its label.

    Attributes
    ----------
    model
        The model that made it.
    window
        Index of the drift window the prediction was counted in; None for the
        reference period.
    prediction
        What the model said (a class or a number).
    score
        The model's score for the positive class, if it gives one.
    probabilities
        Probability per class, if the model gives them.
    features
        The features the model saw, as a mapping or as its JSON (which keeps
        and checkpoints as one object: a join holds up to ``capacity`` of them).
    predicted_at
        Event time of the prediction (timezone-aware).
    segments
        The segment buckets the prediction counted in, each with the index of
        the segment's window that took it (None: the segment's reference), so
        that its label counts in the segment's quality too. Empty while the
        model's buckets are learned, or without segment keys.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> p = PendingPrediction("churn", 3, True, 0.81, None, {"age": 41},
    ...                       datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> p.model, p.window, p.prediction
    ('churn', 3, True)
    """

    model: str
    window: int | None
    prediction: Any
    score: float | None
    probabilities: Mapping[str, float] | None
    features: Mapping[str, Any] | bytes
    predicted_at: datetime
    # A default, so a prediction pickled before segments were carried loads with none.
    segments: tuple[tuple[Segment, int | None], ...] = ()

    def __post_init__(self) -> None:
        _check_aware("predicted_at", self.predicted_at)

    @property
    def features_json(self) -> bytes:
        """The features as compact JSON (a checkpoint of an earlier release holds them as a mapping).

        >>> from datetime import datetime, timezone
        >>> PendingPrediction("m", 0, 1, None, None, {"age": 41}, datetime(2026, 1, 1, tzinfo=timezone.utc)).features_json
        b'{"age":41}'
        """
        return self.features if isinstance(self.features, bytes) else orjson.dumps(self.features)


@dataclass(frozen=True)
class LabelledPair:
    """A prediction joined with its label.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> p = PendingPrediction("churn", 0, True, 0.9, None, {}, t0)
    >>> pair = LabelledPair("p1", p, False, t0 + timedelta(hours=2))
    >>> pair.model, pair.window, pair.delay_s
    ('churn', 0, 7200.0)
    """

    prediction_id: str
    prediction: PendingPrediction
    label: Any
    labelled_at: datetime

    @property
    def delay_s(self) -> float:
        """Seconds of event time from prediction to label.

        Negative when the producers' clocks disagree; the sign is kept so the
        disagreement shows.
        """
        return (self.labelled_at - self.prediction.predicted_at).total_seconds()

    @property
    def model(self) -> str:
        """The prediction's model."""
        return self.prediction.model

    @property
    def window(self) -> int | None:
        """The drift window the prediction was counted in (None: reference period)."""
        return self.prediction.window


@dataclass
class JoinStats:
    """One model's cumulative join counters.

    Attributes
    ----------
    predictions
        Predictions received (a repeated ``prediction_id`` counts once).
    labels
        Labels received, duplicates included. A label is counted under its
        prediction's model; one that arrived first is counted under the model
        it named, or, naming none, once its prediction comes (under ``""`` if
        it never does).
    joined
        Predictions paired with their label.
    expired
        Predictions whose ttl passed without a label.
    orphaned
        Labels whose ttl passed without their prediction (counted under the
        model the label named, else under ``""``).
    duplicates
        Labels for a ``prediction_id`` already joined or already waiting with a
        label (ignored), counted like ``labels``.
    evicted
        Waiting predictions and labels dropped because the join was full.
    evicted_at
        Event time of the latest item evicted (None: never).
    waiting
        Predictions now waiting for their label.

    Examples
    --------
    >>> JoinStats(predictions=10, labels=7, joined=6, expired=2, waiting=2).coverage
    0.75
    """

    predictions: int = 0
    labels: int = 0
    joined: int = 0
    expired: int = 0
    orphaned: int = 0
    duplicates: int = 0
    evicted: int = 0
    waiting: int = 0
    evicted_at: datetime | None = None

    @property
    def coverage(self) -> float:
        """Share of settled predictions that got their label: ``joined / (joined + expired)``; 0.0 when none settled."""
        settled = self.joined + self.expired
        return self.joined / settled if settled else 0.0


# Deadlines are POSIX seconds and joined ids plain tuples: the join is checkpointed
# whole every few seconds, and datetimes and small objects cost most to pickle.


@dataclass
class _WaitingPrediction:
    prediction: PendingPrediction
    deadline: float
    seq: int


@dataclass
class _WaitingLabel:
    label: Any
    labelled_at: datetime
    model: str | None
    deadline: float
    seq: int
    # Labels (this one, and duplicates of it) that named no model: they are
    # counted once the model is known (when the prediction comes), or under ""
    # (orphaned, evicted), so each model's counters add up.
    uncounted_labels: int = 0
    uncounted_duplicates: int = 0

    def settle(self, counters: JoinStats) -> None:
        counters.labels += self.uncounted_labels
        counters.duplicates += self.uncounted_duplicates


_Joined = tuple[str, float, int]  # model, deadline, seq


def _columns(waiting: Mapping[str, _WaitingPrediction]) -> tuple[list[Any], ...]:
    entries = list(waiting.values())
    predictions = [w.prediction for w in entries]
    return (
        list(waiting),
        [p.model for p in predictions],
        [p.window for p in predictions],
        [p.prediction for p in predictions],
        [p.score for p in predictions],
        [p.probabilities for p in predictions],
        [p.features for p in predictions],
        # As POSIX seconds, read back in UTC: the same instant, exact to the microsecond.
        [p.predicted_at.timestamp() for p in predictions],
        [w.deadline for w in entries],
        [w.seq for w in entries],
        [p.segments for p in predictions],
    )


def _from_columns(columns: tuple[list[Any], ...]) -> OrderedDict[str, _WaitingPrediction]:
    ids, models, windows, predictions, scores, probabilities, features, times, deadlines, seqs = columns[:10]
    # A checkpoint written before segments were carried has ten columns: its predictions count in no segment.
    segments = columns[10] if len(columns) > 10 else [()] * len(ids)
    waiting: OrderedDict[str, _WaitingPrediction] = OrderedDict()
    for i, prediction_id in enumerate(ids):
        pending = PendingPrediction(
            models[i],
            windows[i],
            predictions[i],
            scores[i],
            probabilities[i],
            features[i],
            datetime.fromtimestamp(times[i], UTC),
            segments[i],
        )
        waiting[prediction_id] = _WaitingPrediction(pending, deadlines[i], seqs[i])
    return waiting


class LabelJoin:
    """Join predictions with their labels by ``prediction_id``, in event time.

    Parameters
    ----------
    ttl_s
        Seconds of event time either side waits for the other, by default.
    capacity
        Predictions and labels (together) that may wait; past it the oldest
        arrival is evicted. The memory of joined ids is bounded separately by
        the same number.
    per_model_ttl_s
        A ttl for some models, instead of ``ttl_s``. A label that names no
        model waits ``ttl_s``.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> join = LabelJoin(ttl_s=3600, capacity=1000)
    >>> for i in range(3):
    ...     p = PendingPrediction("churn", 0, i % 2 == 0, None, None, {}, t0 + timedelta(seconds=i))
    ...     _ = join.add_prediction(f"p{i}", p)
    >>> pair = join.add_label("p1", True, t0 + timedelta(minutes=5))
    >>> pair.prediction.prediction, pair.label, pair.delay_s
    (False, True, 299.0)
    >>> join.add_label("p1", False, t0 + timedelta(minutes=6)) is None   # a duplicate
    True
    >>> [pid for pid, _ in join.expire(t0 + timedelta(hours=2))]
    ['p0', 'p2']
    >>> s = join.stats("churn")
    >>> s.predictions, s.joined, s.expired, s.duplicates, s.coverage
    (3, 1, 2, 1, 0.3333333333333333)
    """

    def __init__(self, ttl_s: float, capacity: int, per_model_ttl_s: Mapping[str, float] | None = None) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        for model, ttl in (per_model_ttl_s or {}).items():
            if not ttl > 0:
                raise ValueError(f"per_model_ttl_s[{model!r}] must be positive, got {ttl}")
        self.ttl_s = ttl_s
        self.capacity = capacity
        self.per_model_ttl_s = dict(per_model_ttl_s or {})
        # Both in arrival order, so the oldest arrival is at the front of one of them.
        self._predictions: OrderedDict[str, _WaitingPrediction] = OrderedDict()
        self._labels: OrderedDict[str, _WaitingLabel] = OrderedDict()
        self._joined: OrderedDict[str, _Joined] = OrderedDict()
        # (deadline, seq, kind, prediction_id); seq is unique, so entries never
        # compare further, and it tells a live entry from a stale one.
        self._deadlines: list[tuple[float, int, int, str]] = []
        self._seq = 0
        self._counters: dict[str, JoinStats] = {}

    def __len__(self) -> int:
        return len(self._predictions) + len(self._labels)

    @property
    def waiting_predictions(self) -> int:
        """Predictions waiting for their label."""
        return len(self._predictions)

    @property
    def waiting_labels(self) -> int:
        """Labels waiting for their prediction."""
        return len(self._labels)

    def knows(self, prediction_id: str) -> bool:
        """Whether ``prediction_id`` waits or was joined: a prediction or label with it would not wait.

        >>> from datetime import datetime, timezone
        >>> join = LabelJoin(ttl_s=60, capacity=10)
        >>> _ = join.add_label("p1", True, datetime(2026, 1, 1, tzinfo=timezone.utc))
        >>> join.knows("p1"), join.knows("p2")
        (True, False)
        """
        return prediction_id in self._predictions or prediction_id in self._labels or prediction_id in self._joined

    def __getstate__(self) -> dict[str, Any]:
        # Up to ``capacity`` waiting predictions are pickled as a few flat columns, not as
        # objects one by one: for 100,000, 0.14 s instead of 0.53 s to pickle and 0.38 s
        # instead of 0.59 s to load, CPU a checkpoint's child takes from the worker's cores.
        # The deadline heap is left out and rebuilt on load: it is a second copy of
        # the entries' deadlines (0.14 s of 0.49 to pickle at 100,000).
        state = self.__dict__.copy()
        state["_predictions"] = _columns(self._predictions)
        del state["_deadlines"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        waiting = state["_predictions"]
        # A checkpoint written before the columns holds the objects themselves.
        state["_predictions"] = waiting if isinstance(waiting, OrderedDict) else _from_columns(waiting)
        self.__dict__.update(state)
        if "_deadlines" not in state:
            self._compact()

    @property
    def models(self) -> list[str]:
        """Models with any counter, sorted (``""`` collects labels that named no model)."""
        return sorted(self._counters)

    def stats(self, model: str) -> JoinStats:
        """A snapshot of the counters of ``model`` (all zero for a model never seen).

        A copy, which the join's later counting leaves alone; for a read on every pair,
        :meth:`counts` costs a tenth as much.
        """
        counters = self._counters.get(model)
        if counters is None:
            return JoinStats()
        # vars() rather than dataclasses.replace, which costs three times as much.
        return JoinStats(**vars(counters))

    def counts(self, model: str) -> JoinStats:
        """The live counters of ``model``, to read and never to change.

        The join's own object, not a copy: it goes on counting as the join does, and
        changing it would corrupt the join's counts (:meth:`stats` gives a copy). A
        model never seen gets all zeros in an object of its own, which stays zero, so
        ask again rather than keep it.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> join = LabelJoin(ttl_s=60, capacity=10)
        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> _ = join.add_prediction("p1", PendingPrediction("churn", 0, True, None, None, {}, t0))
        >>> live, snapshot = join.counts("churn"), join.stats("churn")
        >>> _ = join.add_label("p1", True, t0)
        >>> live.joined, snapshot.joined, live.coverage
        (1, 0, 1.0)
        >>> join.counts("unseen") == JoinStats(), join.models
        (True, ['churn'])
        """
        counters = self._counters.get(model)
        return JoinStats() if counters is None else counters

    def ttl(self, model: str | None) -> float:
        """Seconds of event time an item of ``model`` waits (None: a label that named no model)."""
        if model is None:
            return self.ttl_s
        return self.per_model_ttl_s.get(model, self.ttl_s)

    def add_prediction(self, prediction_id: str, prediction: PendingPrediction) -> LabelledPair | None:
        """Add a prediction; return the pair if its label was waiting.

        A ``prediction_id`` already waiting or already joined is ignored (a
        replayed event), and counted nowhere.
        """
        if prediction_id in self._predictions or prediction_id in self._joined:
            return None
        counters = self._of(prediction.model)
        counters.predictions += 1
        waiting = self._labels.pop(prediction_id, None)
        if waiting is not None:
            waiting.settle(counters)
            return self._pair(prediction_id, prediction, waiting.label, waiting.labelled_at)
        deadline = prediction.predicted_at.timestamp() + self.ttl(prediction.model)
        seq = self._push(deadline, _PREDICTION, prediction_id)
        self._predictions[prediction_id] = _WaitingPrediction(prediction, deadline, seq)
        counters.waiting += 1
        self._bound()
        return None

    def add_label(self, prediction_id: str, label: Any, labelled_at: datetime, model: str | None = None) -> LabelledPair | None:
        """Add a label; return the pair if its prediction was waiting.

        ``model`` names the prediction's model when the labelling job knows it:
        a label waiting for its prediction then gets that model's ttl, and is
        counted under it. A label for a ``prediction_id`` already joined, or
        already waiting with a first label, is a duplicate: it is counted and
        ignored (the first label stands).
        """
        _check_aware("labelled_at", labelled_at)
        joined = self._joined.get(prediction_id)
        if joined is not None:
            self._duplicate(joined[0])
            return None
        waiting_prediction = self._predictions.pop(prediction_id, None)
        if waiting_prediction is not None:
            self._of(waiting_prediction.prediction.model).waiting -= 1
            self._of(waiting_prediction.prediction.model).labels += 1
            return self._pair(prediction_id, waiting_prediction.prediction, label, labelled_at)
        waiting_label = self._labels.get(prediction_id)
        if waiting_label is not None:
            known = model if model is not None else waiting_label.model
            if known is not None:
                self._duplicate(known)
            else:
                waiting_label.uncounted_labels += 1
                waiting_label.uncounted_duplicates += 1
            return None
        if model is not None:
            self._of(model).labels += 1
        deadline = labelled_at.timestamp() + self.ttl(model)
        seq = self._push(deadline, _LABEL, prediction_id)
        self._labels[prediction_id] = _WaitingLabel(
            label, labelled_at, model, deadline, seq, uncounted_labels=0 if model is not None else 1
        )
        self._bound()
        return None

    def expire(self, now: datetime) -> list[tuple[str, PendingPrediction]]:
        """Settle everything whose ttl has passed by the event-time watermark ``now``.

        Returns the predictions that expired unlabelled, in deadline order.
        Labels still waiting for their prediction past their ttl are dropped
        and counted as orphaned; joined ids older than their ttl are forgotten.
        """
        _check_aware("now", now)
        expired: list[tuple[str, PendingPrediction]] = []
        heap = self._deadlines
        cutoff = now.timestamp()
        while heap and heap[0][0] < cutoff:
            _, seq, kind, prediction_id = heapq.heappop(heap)
            if kind == _PREDICTION:
                waiting = self._predictions.get(prediction_id)
                if waiting is not None and waiting.seq == seq:
                    del self._predictions[prediction_id]
                    counters = self._of(waiting.prediction.model)
                    counters.expired += 1
                    counters.waiting -= 1
                    expired.append((prediction_id, waiting.prediction))
            elif kind == _LABEL:
                label = self._labels.get(prediction_id)
                if label is not None and label.seq == seq:
                    del self._labels[prediction_id]
                    counters = self._of(label.model or "")
                    counters.orphaned += 1
                    label.settle(counters)
            else:
                joined = self._joined.get(prediction_id)
                if joined is not None and joined[2] == seq:
                    del self._joined[prediction_id]
        return expired

    def _of(self, model: str) -> JoinStats:
        counters = self._counters.get(model)
        if counters is None:
            counters = self._counters[model] = JoinStats()
        return counters

    def _duplicate(self, model: str) -> None:
        counters = self._of(model)
        counters.labels += 1
        counters.duplicates += 1

    def _pair(self, prediction_id: str, prediction: PendingPrediction, label: Any, labelled_at: datetime) -> LabelledPair:
        self._of(prediction.model).joined += 1
        # Remembered as long as either side of a late duplicate could still be
        # within its ttl: from the later of the two event times.
        settled_at = max(prediction.predicted_at, labelled_at)
        deadline = settled_at.timestamp() + self.ttl(prediction.model)
        seq = self._push(deadline, _JOINED, prediction_id)
        self._joined[prediction_id] = (prediction.model, deadline, seq)
        while len(self._joined) > self.capacity:
            # Forgetting a joined id loses no data: a late duplicate of it would
            # wait as a label and end up orphaned instead of counted as duplicate.
            self._joined.popitem(last=False)
        return LabelledPair(prediction_id, prediction, label, labelled_at)

    def _push(self, deadline: float, kind: int, prediction_id: str) -> int:
        live = len(self._predictions) + len(self._labels) + len(self._joined)
        if len(self._deadlines) >= 2 * live + _HEAP_SLACK:
            self._compact()
        self._seq += 1
        heapq.heappush(self._deadlines, (deadline, self._seq, kind, prediction_id))
        return self._seq

    def _compact(self) -> None:
        entries = [(w.deadline, w.seq, _PREDICTION, pid) for pid, w in self._predictions.items()]
        entries += [(w.deadline, w.seq, _LABEL, pid) for pid, w in self._labels.items()]
        entries += [(deadline, seq, _JOINED, pid) for pid, (_, deadline, seq) in self._joined.items()]
        heapq.heapify(entries)
        self._deadlines = entries

    def _bound(self) -> None:
        while len(self) > self.capacity:
            oldest_prediction = next(iter(self._predictions.values()), None)
            oldest_label = next(iter(self._labels.values()), None)
            if oldest_label is None or (oldest_prediction is not None and oldest_prediction.seq < oldest_label.seq):
                _, prediction = self._predictions.popitem(last=False)
                counters = self._of(prediction.prediction.model)
                counters.evicted += 1
                counters.waiting -= 1
                counters.evicted_at = prediction.prediction.predicted_at
            else:
                _, label = self._labels.popitem(last=False)
                counters = self._of(label.model or "")
                counters.evicted += 1
                counters.evicted_at = label.labelled_at
                label.settle(counters)
