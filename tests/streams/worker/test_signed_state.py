"""Signed checkpoints: only state signed with a configured key is ever unpickled; keys rotate; secrets stay secret."""

from __future__ import annotations

import hashlib
import pickle
import zlib
from pathlib import Path

import orjson
import pytest

from streams.errors import CheckpointRefused, ConfigError
from streams.settings import KafkaSettings, Settings, load_settings
from streams.worker import checkpoint
from streams.worker.checkpoint import StateKeys, dump, pack, read_checkpoints

NEW = b"new key - signs from now on......"
OLD = b"old key - verifies until rotated."
NAME = "group/p0"

# What unpickling a forged checkpoint ran: it must stay empty.
RAN: list[str] = []


def _ran(what: str) -> None:
    RAN.append(what)


class Payload:
    """An object whose unpickling runs code (as a forged checkpoint's would)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_ran, ("code from the state topic",))


@pytest.fixture(autouse=True)
def nothing_ran() -> None:
    RAN.clear()


def topic(*writes: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    latest: dict[bytes, bytes] = {}
    for records in writes:
        latest.update(records)
    return latest


def read(monkeypatch: pytest.MonkeyPatch, latest: dict[bytes, bytes], keys: StateKeys, name: str = NAME) -> object:
    """The restored checkpoint of ``name``, or the refusal."""
    monkeypatch.setattr(checkpoint, "read_latest", lambda *args, **kwargs: latest)
    found, refused = read_checkpoints(KafkaSettings(), "state", [name], keys)
    return refused[name] if name in refused else found.get(name)


def previous_release(state: object, name: str, generation: int) -> list[tuple[bytes, bytes]]:
    """A checkpoint exactly as releases before signed state wrote it: format 1, no signature."""
    payload = dump(state)
    manifest = {
        "format": 1,
        "generation": generation,
        "slot": generation % 2,
        "chunks": 1,
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    return [(f"{name}/{generation % 2}/0".encode(), payload), (f"{name}/manifest".encode(), orjson.dumps(manifest))]


def with_manifest(records: list[tuple[bytes, bytes]], **changes: object) -> list[tuple[bytes, bytes]]:
    manifest = orjson.loads(records[-1][1])
    manifest.update(changes)
    return [*records[:-1], (records[-1][0], orjson.dumps(manifest))]


# -- signed state --------------------------------------------------------------------------


def test_a_signed_checkpoint_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    records = pack(dump({"offsets": 7}), NAME, 3, StateKeys((NEW,)))
    assert orjson.loads(records[-1][1])["format"] == checkpoint.FORMAT
    assert read(monkeypatch, topic(records), StateKeys((NEW,))) == ({"offsets": 7}, 3)


def test_a_tampered_payload_is_refused_without_being_unpickled(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = pack(dump({"offsets": 7}), NAME, 3, StateKeys((NEW,)))
    forged_payload = dump(Payload())
    # The attacker rewrites the chunk and the checksum, keeping the signature of the real payload.
    forged = [
        (signed[0][0], forged_payload),
        *with_manifest(signed, sha256=hashlib.sha256(forged_payload).hexdigest(), bytes=len(forged_payload))[1:],
    ]
    refusal = read(monkeypatch, topic(forged), StateKeys((NEW,)))
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "bad_signature"
    assert "worker.state_keys (STREAMMON_WORKER__STATE_KEYS)" in str(refusal)
    assert RAN == []


def test_a_checkpoint_signed_with_another_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    forged = pack(dump(Payload()), NAME, 3, StateKeys((b"the attacker's key, long enough.",)))
    refusal = read(monkeypatch, topic(forged), StateKeys((NEW,)))
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "bad_signature"
    assert RAN == []


def test_a_signature_is_bound_to_its_checkpoint_name_and_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another partition's signed state, copied under this partition's keys, or its generation rewritten.
    other = pack(dump({"offsets": 1}), "group/p1", 3, StateKeys((NEW,)))
    moved = [(key.replace(b"group/p1", NAME.encode()), value) for key, value in other]
    assert isinstance(read(monkeypatch, topic(moved), StateKeys((NEW,))), CheckpointRefused)
    own = pack(dump({"offsets": 1}), NAME, 3, StateKeys((NEW,)))
    assert isinstance(read(monkeypatch, topic(with_manifest(own, generation=5)), StateKeys((NEW,))), CheckpointRefused)


def test_a_garbage_signature_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = pack(dump({"offsets": 7}), NAME, 3, StateKeys((NEW,)))
    for signature in ("", "00" * 32, "é" * 64, 42, ["x"]):
        refusal = read(monkeypatch, topic(with_manifest(signed, signature=signature)), StateKeys((NEW,)))
        assert isinstance(refusal, CheckpointRefused) and refusal.reason == "bad_signature", signature


def test_rotation_the_old_key_still_verifies_and_the_new_one_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    before = pack(dump({"offsets": 1}), NAME, 1, StateKeys((OLD,)))
    rotated = StateKeys((NEW, OLD))
    assert read(monkeypatch, topic(before), rotated) == ({"offsets": 1}, 1)
    after = pack(dump({"offsets": 2}), NAME, 2, rotated)
    # Once every checkpoint is rewritten, the old key can go.
    assert read(monkeypatch, topic(before, after), StateKeys((NEW,))) == ({"offsets": 2}, 2)
    # A checkpoint still signed with a key dropped too early is refused, not restored unverified.
    assert isinstance(read(monkeypatch, topic(before), StateKeys((NEW,))), CheckpointRefused)


def test_a_signed_checkpoint_is_refused_by_a_worker_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = pack(dump({"offsets": 7}), NAME, 3, StateKeys((NEW,)))
    refusal = read(monkeypatch, topic(signed), StateKeys())
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "no_key"
    assert "worker.state_keys" in str(refusal)


def test_without_keys_checkpoints_are_unsigned_and_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    records = pack(dump({"offsets": 7}), NAME, 3, StateKeys())
    assert orjson.loads(records[-1][1])["signature"] is None
    assert read(monkeypatch, topic(records), StateKeys()) == ({"offsets": 7}, 3)


def test_a_manifest_that_makes_no_sense_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = pack(dump({"offsets": 7}), NAME, 3, StateKeys((NEW,)))
    for changes in ({"chunks": 10**12}, {"chunks": -1}, {"chunks": "1"}, {"generation": "x"}):
        refusal = read(monkeypatch, topic(with_manifest(signed, **changes)), StateKeys((NEW,)))
        assert isinstance(refusal, CheckpointRefused) and refusal.reason == "unreadable", changes
    for manifest in (b"not json", b"[1, 2]", b"{}"):
        refusal = read(monkeypatch, topic([*signed[:-1], (signed[-1][0], manifest)]), StateKeys((NEW,)))
        assert isinstance(refusal, CheckpointRefused) and refusal.reason == "unreadable", manifest


def test_one_refused_partition_does_not_hold_back_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    good = pack(dump({"offsets": 1}), "group/p1", 1, StateKeys((NEW,)))
    bad = pack(dump(Payload()), "group/p0", 1, StateKeys((OLD,)))
    monkeypatch.setattr(checkpoint, "read_latest", lambda *args, **kwargs: topic(good, bad))
    found, refused = read_checkpoints(KafkaSettings(), "state", ["group/p0", "group/p1", "group/p2"], StateKeys((NEW,)))
    assert found == {"group/p1": ({"offsets": 1}, 1)} and set(refused) == {"group/p0"}
    assert RAN == []


def test_keys_never_show_in_the_keys_repr() -> None:
    assert "new key" not in repr(StateKeys((NEW, OLD))) and "new key" not in str(StateKeys((NEW,)))


# -- checkpoints of the previous format ----------------------------------------------------


def test_a_previous_release_checkpoint_restores_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(monkeypatch, topic(previous_release({"offsets": 4}, NAME, 2)), StateKeys()) == ({"offsets": 4}, 2)


def test_a_previous_release_checkpoint_is_refused_with_keys_saying_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = read(monkeypatch, topic(previous_release(Payload(), NAME, 2)), StateKeys((NEW,)))
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "unsigned"
    message = str(refusal)
    assert "worker.restore_unsigned_state (STREAMMON_WORKER__RESTORE_UNSIGNED_STATE)" in message
    assert f"{NAME}/manifest on state" in message  # or how to start afresh
    assert RAN == []


def test_a_previous_release_checkpoint_restores_once_allowed_and_is_then_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    moving = StateKeys((NEW,), accept_unsigned=True)
    assert read(monkeypatch, topic(previous_release({"offsets": 4}, NAME, 2)), moving) == ({"offsets": 4}, 2)
    rewritten = pack(dump({"offsets": 5}), NAME, 3, moving)
    assert read(monkeypatch, topic(previous_release({"offsets": 4}, NAME, 2), rewritten), StateKeys((NEW,))) == (
        {"offsets": 5},
        3,
    )


def test_a_forged_signature_is_refused_even_while_unsigned_state_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    forged = pack(dump(Payload()), NAME, 3, StateKeys((b"the attacker's key, long enough.",)))
    assert isinstance(read(monkeypatch, topic(forged), StateKeys((NEW,), accept_unsigned=True)), CheckpointRefused)
    assert RAN == []


def test_a_format_from_a_later_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    records = with_manifest(pack(dump({"offsets": 1}), NAME, 1, StateKeys((NEW,))), format=3)
    refusal = read(monkeypatch, topic(records), StateKeys((NEW,)))
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "format"
    assert "format 3" in str(refusal) and "run the release that wrote it" in str(refusal)


def test_a_state_this_release_cannot_load_is_refused_saying_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the pickled class was moved or removed since: pickle cannot find it.
    payload = zlib.compress(pickle.dumps(Payload()).replace(b"_ran", b"_gon"))
    records = pack(payload, NAME, 1, StateKeys((NEW,)))
    refusal = read(monkeypatch, topic(records), StateKeys((NEW,)))
    assert isinstance(refusal, CheckpointRefused) and refusal.reason == "unreadable"
    assert "AttributeError" in str(refusal) and "start its partition afresh" in str(refusal)


# -- the setting ---------------------------------------------------------------------------


def test_keys_from_the_environment_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_WORKER__STATE_KEYS", f"{NEW.decode()},{OLD.decode()}")
    settings = Settings()
    assert StateKeys.of(settings.worker).keys == (NEW, OLD)
    assert NEW.decode() not in repr(settings) and NEW.decode() not in str(settings.model_dump())


def test_keys_from_a_reference_in_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_KEYS", f"{NEW.decode()},{OLD.decode()}")
    monkeypatch.setenv("ONE_KEY", NEW.decode())
    config = tmp_path / "streammon.yaml"
    config.write_text("worker:\n  state_keys: ${STATE_KEYS}\n")
    assert StateKeys.of(load_settings(config).worker).keys == (NEW, OLD)
    config.write_text("worker:\n  state_keys: ['${ONE_KEY}']\n")
    assert StateKeys.of(load_settings(config).worker).keys == (NEW,)


def test_a_key_written_in_the_file_is_rejected_without_quoting_it(tmp_path: Path) -> None:
    config = tmp_path / "streammon.yaml"
    for written in (f"state_keys: {NEW.decode()}", f"state_keys: ['{NEW.decode()}']"):
        config.write_text(f"worker:\n  {written}\n")
        with pytest.raises(ConfigError) as caught:
            load_settings(config)
        assert "a secret cannot be written in the config file" in str(caught.value)
        assert NEW.decode() not in str(caught.value)


def test_a_short_key_is_rejected_without_quoting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_WORKER__STATE_KEYS", "hunter2")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "worker.state_keys" in str(caught.value) and "at least 16 characters" in str(caught.value)
    assert "hunter2" not in str(caught.value)
