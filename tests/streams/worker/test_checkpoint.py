"""Checkpoint records: chunks, alternating slots, and a signed manifest that guards them."""

from __future__ import annotations

import os
import threading

import pytest

from streams.errors import CheckpointRefused
from streams.settings import KafkaSettings
from streams.worker import checkpoint
from streams.worker.checkpoint import CHUNK_BYTES, StateKeys, dump, load, load_checkpoints, pack, snapshot

KEY = StateKeys((b"the signing key, 32 characters..",))


def topic_after(*writes: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """What a compacted topic holds per key after these checkpoints were written in order."""
    latest: dict[bytes, bytes] = {}
    for records in writes:
        latest.update(records)
    return latest


def checkpoint_records(state: object, name: str, generation: int, keys: StateKeys = KEY) -> list[tuple[bytes, bytes]]:
    return pack(dump(state), name, generation, keys)


def load_from(monkeypatch: pytest.MonkeyPatch, latest: dict[bytes, bytes], keys: StateKeys = KEY) -> object:
    monkeypatch.setattr(checkpoint, "read_latest", lambda *args, **kwargs: latest)
    return load_checkpoints(KafkaSettings(), "state", ["group"], keys).get("group")


def test_a_large_state_is_cut_into_chunks_and_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"rows": os.urandom(3 * CHUNK_BYTES)}  # incompressible: needs four chunks
    records = checkpoint_records(state, "group", generation=1)
    assert len(records) == 5 and records[-1][0] == b"group/manifest"
    assert all(len(value) <= CHUNK_BYTES for _, value in records)
    assert load_from(monkeypatch, topic_after(records)) == (state, 1)


def test_a_crash_while_writing_leaves_the_previous_checkpoint_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    first = checkpoint_records({"offsets": 1}, "group", generation=1)
    second = checkpoint_records({"offsets": 2}, "group", generation=2)
    third = checkpoint_records({"offsets": 3}, "group", generation=3)
    # The third was cut off before its manifest: it overwrote slot 1, which the manifest does not name.
    assert load_from(monkeypatch, topic_after(first, second, third[:-1])) == ({"offsets": 2}, 2)


def test_chunks_that_do_not_match_their_manifest_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    records = checkpoint_records({"offsets": 1}, "group", generation=1)
    latest = topic_after(records)
    latest[b"group/1/0"] = b"something else"
    with pytest.raises(CheckpointRefused, match="does not match its checksum"):
        load_from(monkeypatch, latest)


def test_no_manifest_means_no_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_from(monkeypatch, {}) is None


def test_a_snapshot_is_the_state_as_it_was_when_taken() -> None:
    state = {"rows": list(range(100_000)), "offsets": 7}
    taken = snapshot(state)
    state["rows"].clear()  # the worker goes on changing its state meanwhile
    state["offsets"] = 8
    assert load(taken.payload()) == {"rows": list(range(100_000)), "offsets": 7}


def test_a_snapshot_that_cannot_be_pickled_fails_in_the_parent() -> None:
    taken = snapshot({"lock": threading.Lock()})
    with pytest.raises(RuntimeError, match="snapshot process"):
        taken.payload()
