"""A checkpoint written by an earlier release is restored by this one, and goes on.

``fixtures/checkpoint-0546abf.bin`` is the payload (:func:`streams.worker.checkpoint.dump`)
of partition 0's state as the worker of commit 0546abf left it: 1,200 predictions
of bench/event_path.py's default scenario (10 models, 20 features, the ``region``
segment) and their labels, with windows of 40 and references of 60, the online
challengers off. It was pickled before the partition's rules moved to
``monitors.partition`` and before the modules moved to concept subpackages; a change that this test cannot absorb must raise
:data:`streams.worker.checkpoint.FORMAT` and say what to do (see that module).
"""

from __future__ import annotations

import importlib
import pickle
import zlib
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from monitors.intake.freshness import FreshnessMonitor
from monitors.online import challenger as challenger_module
from monitors.online.challenger import Challenger
from monitors.online.detectors import ErrorMonitor
from monitors.online.models import prepare
from streams.assembly import partition_rules
from streams.settings import Settings
from streams.worker.checkpoint import MOVED_MODULES, MOVED_NAMES, dump, load
from streams.worker.state import WorkerState

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoint-0546abf.bin"


@pytest.fixture()
def restored() -> WorkerState:
    state = load(FIXTURE.read_bytes())
    assert isinstance(state, WorkerState)
    state.configure(partition_rules(Settings(segments={"keys": ["region"]}, window={"size": 40}, reference={"size": 60})))
    return state


def test_the_earlier_state_is_whole(restored: WorkerState) -> None:
    assert sum(restored.offsets.values()) == 2400
    assert len(restored.labels.models) == 10
    model = restored.labels.models[0]
    assert restored.labels.counts(model).joined == 120
    assert restored.watch.reference_ready(model) and restored.watch.window_index(model) == 1
    assert restored.buckets[model].frozen
    assert restored.unpublished  # results due when it was saved are still due


def test_the_restored_state_takes_events_and_saves_again(restored: WorkerState) -> None:
    model = restored.labels.models[0]
    assert restored.event_time is not None
    at = restored.event_time + timedelta(seconds=1)
    prediction = SimpleNamespace(
        model=model,
        prediction_id="after-restore",
        prediction=1,
        score=0.7,
        probabilities=None,
        segment={"region": "eu"},
        event_time=at,
    )
    restored.update(prediction, {"x": 1.0}, b'{"x":1.0}')
    effects = restored.label("after-restore", 1, at, model)
    assert effects.joined == [model]
    again = load(dump(restored))
    assert again.labels.counts(model).joined == 121


def test_classes_that_moved_module_are_found_where_they_are_now() -> None:
    raw = zlib.decompress(FIXTURE.read_bytes())
    assert b"monitors.watch" in raw and b"streams.worker_state" in raw  # the layout before the concept subpackages
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(raw)
    assert isinstance(load(FIXTURE.read_bytes()), WorkerState)
    for module in MOVED_MODULES.values():
        importlib.import_module(module)


def test_names_that_left_a_split_module_are_found_where_they_are_now(monkeypatch: pytest.MonkeyPatch) -> None:
    for (module, name), (now, new) in MOVED_NAMES.items():
        assert getattr(importlib.import_module(now), new).__module__ == now, (module, name)
    # A learning challenger as the layout before the concept subpackages pickled it: its
    # pipelines' first step named monitors.challenger.prepare.
    challenger = Challenger("logistic_regression", min_labelled=1)
    for i in range(10):
        challenger.learn("churn", {"x": float(i)}, 1, i % 2)
    raw = pickle.dumps(challenger, protocol=2)  # protocol 2 names globals as text lines
    assert raw.count(b"cmonitors.online.models\nprepare\n") == 1
    old = raw.replace(b"cmonitors.online.models\nprepare\n", b"cmonitors.challenger\nprepare\n")
    with monkeypatch.context() as patch:
        # Found by the map, not because the challenger's module happens to import it.
        patch.delattr(challenger_module, "prepare")
        restored = load(zlib.compress(old))
    assert restored.estimator("churn").steps["prepare"].func is prepare
    assert restored.state("churn") == challenger.state("churn")
    restored.learn("churn", {"x": 3.0}, 1, 1)
    assert restored.state("churn").learned == 11


def test_classes_that_were_renamed_are_found_under_their_new_names(restored: WorkerState) -> None:
    assert isinstance(restored.errors, ErrorMonitor) and isinstance(restored.freshness, FreshnessMonitor)
    model = restored.labels.models[0]
    assert restored.errors.close(model) is not None  # the detector's pending state came through
    assert restored.event_time is not None
    assert model in restored.freshness.silences(restored.event_time)
    # A checkpoint of the releases between the concept subpackages and the renames names them at their new modules.
    for (module, old), (new_module, new) in MOVED_NAMES.items():
        found = load(zlib.compress(f"c{module}\n{old}\n.".encode()))
        assert found is getattr(importlib.import_module(new_module), new)
