"""Checkpoints: the worker's state saved on Kafka together with the input offsets it reflects.

A checkpoint is the pickled state, compressed and cut into chunks (a Kafka
message is limited to about 1 MB by default), written to a compacted topic
under the keys ``<name>/<slot>/<i>``, then a manifest under ``<name>/manifest``
that names the slot, the number of chunks and their checksum. Two slots
alternate, so a worker killed while writing leaves the previous checkpoint
whole: the manifest still points to it.

The worker commits input offsets only once a checkpoint that reflects them
is written, so the committed offsets never run ahead of the saved state; on
restart, messages below the checkpoint's offsets are skipped.
Together these give every input message exactly one effect on the state.

The worker takes a checkpoint with :func:`snapshot`: a forked child process
pickles and compresses the state as it was at the fork (the pages are shared
copy-on-write), while the worker goes on. Pickling in the worker itself, even
in a thread, holds the GIL for as long as pickle's C loop runs (0.1 to 0.6 s
for a partition with 100,000 waiting predictions or joined ids), and the event
loop with it.

Pickle runs code when it loads, so a checkpoint is signed: the manifest
carries an HMAC-SHA256 of the payload (bound to the checkpoint's name and
generation, so one partition's state cannot stand in for another's) made with
the first key of ``worker.state_keys``, and a checkpoint is unpickled only
when one of those keys verifies it (:class:`StateKeys`). Anything else is
refused with :class:`~streams.errors.CheckpointRefused`, before pickle sees a
byte of it. Without keys, checkpoints are written unsigned and restored
unverified (the worker warns at start); a signed checkpoint is then refused,
since it cannot be checked.

The manifest's ``format`` names the layout: 1 is the unsigned checkpoint of
releases before signing, 2 adds ``signature`` (null when written without
keys). A worker with keys refuses unsigned checkpoints unless
``worker.restore_unsigned_state`` lets it take them, once, while moving to
signed state. A change to the pickled classes that old checkpoints cannot load
into must raise the format; a checkpoint that fails to unpickle is refused
with what to do, never half-restored. A class that only moved to another
module is found at its new place (:data:`MOVED_MODULES`), and a class that left a
split module or was renamed under its new module and name (:data:`MOVED_NAMES`),
so neither needs a new format.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import io
import logging
import os
import pickle
import signal
import sys
import traceback
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import lz4.frame
import orjson

from streams.compacted import read_latest
from streams.errors import CheckpointRefused
from streams.settings import KafkaSettings, WorkerSettings

__all__ = [
    "CHUNK_BYTES",
    "FORMAT",
    "KEYS_SETTING",
    "Snapshot",
    "StateKeys",
    "MOVED_MODULES",
    "MOVED_NAMES",
    "dump",
    "load",
    "load_checkpoints",
    "pack",
    "partition_checkpoint",
    "read_checkpoints",
    "restore",
    "snapshot",
]

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024
_LZ4_MAGIC = b"\x04\x22\x4d\x18"

# Where the classes a checkpoint holds lived before the concept subpackages
# (commit 0eab9b1 and earlier): old module to new. Only the state's classes are pickled;
# monitors._evidently (now split in monitors.evidently) is absent: its reports and snapshots
# are made from a state, never kept in one (none is in the 0546abf checkpoint of the tests).
MOVED_MODULES: dict[str, str] = {
    "monitors._stattests": "monitors.evidently.stattests",
    "monitors.alerts": "monitors.alerting.alerts",
    "monitors.fingerprint": "monitors.alerting.fingerprint",
    "monitors.matchers": "monitors.alerting.matchers",
    "monitors.lifecycle": "monitors.alerting.lifecycle",
    "monitors.routing": "monitors.alerting.routing",
    "monitors.dispatch": "monitors.alerting.dispatch",
    "monitors.silences": "monitors.alerting.silences",
    "monitors.inhibition": "monitors.alerting.inhibition",
    "monitors.quoting": "monitors.alerting.quoting",
    "monitors.columns": "monitors.windows.columns",
    "monitors.windows": "monitors.windows.tumbling",
    "monitors.reference": "monitors.windows.reference",
    "monitors.watch": "monitors.windows.watch",
    "monitors.segments": "monitors.windows.segments",
    "monitors.drift": "monitors.drift.monitor",
    "monitors.conditions": "monitors.drift.rules",
    "monitors.multiple_testing": "monitors.drift.multiple_testing",
    "monitors.multivariate": "monitors.drift.multivariate",
    "monitors.thresholds": "monitors.drift.thresholds",
    "monitors.quality": "monitors.quality.monitor",
    "monitors.labels": "monitors.labels.join",
    "monitors.performance": "monitors.labels.performance",
    "monitors.cbpe": "monitors.labels.estimates",
    "monitors.metric_names": "monitors.labels.metric_names",
    "monitors.challenger": "monitors.online.challenger",
    "monitors.minibatch": "monitors.online.minibatch",
    "monitors.detectors": "monitors.online.detectors",
    "monitors.duplicates": "monitors.intake.duplicates",
    "monitors.backpressure": "monitors.intake.backpressure",
    "monitors.freshness": "monitors.intake.freshness",
    "monitors.join": "monitors.intake.join",
    "monitors.full_reports": "monitors.workspace.full_reports",
    "monitors.retention": "monitors.workspace.retention",
    "streams.worker_state": "streams.worker.state",
}

# Names that left a module split in two or were renamed when monitors and rules got
# one name per role (after commit c1d2820): (module, name) as MOVED_MODULES leaves
# them, to (module, name) now. Their pickled attributes load as they were.
MOVED_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    # Every online model's pipeline holds its first step's function, by reference.
    ("monitors.online.challenger", "prepare"): ("monitors.online.models", "prepare"),
    ("monitors.online.detectors", "ErrorStream"): ("monitors.online.detectors", "ErrorMonitor"),
    ("monitors.intake.freshness", "Freshness"): ("monitors.intake.freshness", "FreshnessMonitor"),
}

FORMAT = 2
_UNSIGNED_FORMAT = 1  # releases before signed state: no signature in the manifest
KEYS_SETTING = "worker.state_keys (STREAMMON_WORKER__STATE_KEYS)"
_UNSIGNED_SETTING = "worker.restore_unsigned_state (STREAMMON_WORKER__RESTORE_UNSIGNED_STATE)"
_DOMAIN = b"streammon checkpoint v2\x00"


@dataclass(frozen=True)
class StateKeys:
    """The keys that sign and verify checkpoints: the first signs, any of them verifies (rotation).

    No keys: checkpoints are written unsigned and unsigned ones are restored.

    >>> keys = StateKeys((b"new key, signs", b"old key, still verifies"))
    >>> signature = keys.sign("group/p0", 3, b"payload")
    >>> keys.verifies("group/p0", 3, b"payload", signature), keys.verifies("group/p1", 3, b"payload", signature)
    (True, False)
    >>> StateKeys((b"old key, still verifies",)).verifies("group/p0", 3, b"payload", signature)
    False
    >>> StateKeys((b"secret",))
    StateKeys(1 keys, accept_unsigned=False)
    """

    keys: tuple[bytes, ...] = ()
    accept_unsigned: bool = False

    @classmethod
    def of(cls, worker: WorkerSettings) -> StateKeys:
        """The keys of the worker's settings."""
        return cls(tuple(k.get_secret_value().encode() for k in worker.state_keys), worker.restore_unsigned_state)

    def __repr__(self) -> str:  # never the keys themselves
        return f"StateKeys({len(self.keys)} keys, accept_unsigned={self.accept_unsigned})"

    def sign(self, name: str, generation: int, payload: bytes) -> str | None:
        """The hex signature of a checkpoint's payload with the first key, or None without keys."""
        return _mac(self.keys[0], name, generation, payload) if self.keys else None

    def verifies(self, name: str, generation: int, payload: bytes, signature: str) -> bool:
        """Whether one of the keys made ``signature`` for this payload of this checkpoint."""
        # Each key is tried in full, whichever matches: the time taken says nothing of which.
        # Bytes, not str: compare_digest raises on non-ASCII text, which a forged manifest may hold.
        given = signature.encode("utf-8", "replace")
        matches = [hmac.compare_digest(_mac(key, name, generation, payload).encode(), given) for key in self.keys]
        return any(matches)


def _mac(key: bytes, name: str, generation: int, payload: bytes) -> str:
    mac = hmac.new(key, _DOMAIN + f"{name}\x00{generation}\x00".encode(), hashlib.sha256)
    mac.update(payload)
    return mac.hexdigest()


class _Unpickler(pickle.Unpickler):
    """Pickle's loader, finding classes that moved module or were renamed since the checkpoint was written."""

    def find_class(self, module: str, name: str) -> Any:
        moved = MOVED_MODULES.get(module, module)
        return super().find_class(*MOVED_NAMES.get((moved, name), (moved, name)))


def load(payload: bytes) -> Any:
    """The state of a checkpoint payload made by :func:`dump`, by this release or an earlier one.

    >>> load(dump({"offsets": 7}))
    {'offsets': 7}
    """
    # Payloads before LZ4 are zlib streams; an LZ4 frame opens with its magic number.
    raw = lz4.frame.decompress(payload) if payload.startswith(_LZ4_MAGIC) else zlib.decompress(payload)
    return _Unpickler(io.BytesIO(raw)).load()


def dump(state: object) -> bytes:
    """The checkpoint payload of a state: pickled, compressed as an LZ4 frame.

    LZ4, not zlib: for a partition of 100,000 waiting predictions (28.5 MB pickled)
    zlib at level 1 took 0.33 s of the checkpoint child's CPU and LZ4 0.03 s, for a
    payload of 18.6 MB instead of 15.5 (``bench/checkpoint.py``).

    >>> pickle.loads(lz4.frame.decompress(dump({"offsets": 7})))
    {'offsets': 7}
    """
    return bytes(lz4.frame.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)))


class Snapshot:
    """The :func:`dump` of a state as it was when :func:`snapshot` forked, being made by a child process."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self._pipe = pipe

    def payload(self) -> bytes:
        """Wait for the child's payload (blocking: run it in a thread).

        Raises
        ------
        RuntimeError
            When the child failed (its traceback is on the worker's stderr).
        """
        with os.fdopen(self._pipe, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"the snapshot process {self.pid} failed (exit code {code})")
        return payload


def snapshot(state: object) -> Snapshot:
    """Fork a child that writes the :func:`dump` of ``state`` as it is now, and return at once.

    Call it while nothing changes ``state`` (the worker holds its state lock);
    the child sees the memory of that moment whatever the parent does next.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child; its work shows in the parent's result)
        _write_and_exit(state, read, write)
    os.close(write)
    return Snapshot(pid, read)


def _write_and_exit(state: object, read: int, write: int) -> None:
    code = 1
    try:
        # A collection would write to every object's header, copying every page of the parent.
        gc.disable()
        # The parent's signal handlers (and its event loop's wakeup fd) are not the child's.
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_DFL)
        os.close(read)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(dump(state))
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        # No atexit handlers, no flushing of the parent's buffers or sockets: only the payload leaves.
        os._exit(code)


def pack(payload: bytes, name: str, generation: int, keys: StateKeys) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of a checkpoint from its :func:`dump`, to be sent in order: chunks, then the manifest.

    The manifest carries the payload's signature with the first of ``keys``.

    >>> records = pack(dump({"offsets": {("t", 0): 7}}), "group", generation=3, keys=StateKeys((b"k" * 32,)))
    >>> [key.decode() for key, _ in records]
    ['group/1/0', 'group/manifest']
    """
    slot = generation % 2
    chunks = [payload[i : i + CHUNK_BYTES] for i in range(0, len(payload), CHUNK_BYTES)] or [b""]
    records = [(f"{name}/{slot}/{i}".encode(), chunk) for i, chunk in enumerate(chunks)]
    manifest = {
        "format": FORMAT,
        "generation": generation,
        "slot": slot,
        "chunks": len(chunks),
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "signature": keys.sign(name, generation, payload),
    }
    records.append((f"{name}/manifest".encode(), orjson.dumps(manifest)))
    return records


def partition_checkpoint(group: str, partition: int) -> str:
    """The checkpoint name of one input partition's state in a consumer group.

    >>> partition_checkpoint("streammon-worker", 2)
    'streammon-worker/p2'
    """
    return f"{group}/p{partition}"


def load_checkpoints(kafka: KafkaSettings, topic: str, names: Iterable[str], keys: StateKeys) -> dict[str, tuple[Any, int]]:
    """The latest checkpoint of each of ``names`` that has one, reading the topic once.

    Raises
    ------
    CheckpointRefused
        When one of them is refused (see :func:`read_checkpoints`).
    """
    found, refused = read_checkpoints(kafka, topic, names, keys)
    for refusal in refused.values():
        raise refusal
    return found


def read_checkpoints(
    kafka: KafkaSettings, topic: str, names: Iterable[str], keys: StateKeys
) -> tuple[dict[str, tuple[Any, int]], dict[str, CheckpointRefused]]:
    """The latest checkpoint of each of ``names`` that has one (state and generation), and those refused, reading the topic once.

    A checkpoint is refused, and never unpickled, when its chunks do not
    match its manifest (written by something else, or compaction lost a
    chunk), when ``keys`` do not verify its signature, when it is unsigned and
    ``keys`` require a signature, or when it is signed and there are no keys.
    """
    latest = read_latest(kafka, topic, decode=_identity)
    found: dict[str, tuple[Any, int]] = {}
    refused: dict[str, CheckpointRefused] = {}
    for name in names:
        try:
            checkpoint = restore(latest, topic, name, keys)
        except CheckpointRefused as exc:
            refused[name] = exc
            continue
        if checkpoint is not None:
            found[name] = checkpoint
    return found, refused


def restore(latest: Mapping[bytes, bytes], topic: str, name: str, keys: StateKeys) -> tuple[Any, int] | None:
    """The state and generation of checkpoint ``name`` in a compacted topic's ``latest`` records, None when it has none.

    Raises
    ------
    CheckpointRefused
        With what to do, before anything is unpickled.
    """
    manifest_raw = latest.get(f"{name}/manifest".encode())
    if manifest_raw is None:
        return None
    where = f"checkpoint {name} on {topic}"
    afresh = _afresh(topic, name)
    try:
        manifest = orjson.loads(manifest_raw)
        form, slot, count, generation = manifest["format"], manifest["slot"], manifest["chunks"], int(manifest["generation"])
        if not isinstance(count, int) or not 0 < count <= len(latest):
            raise ValueError("chunks")  # a count beyond the topic's records would only be a long wait
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise CheckpointRefused(f"{where} has no readable manifest; {afresh}", reason="unreadable") from None
    if form not in (_UNSIGNED_FORMAT, FORMAT):
        raise CheckpointRefused(
            f"{where} has format {form!r}; this release reads formats {_UNSIGNED_FORMAT} and {FORMAT}: run the release "
            f"that wrote it, or {afresh}",
            reason="format",
        )
    chunks = [latest.get(f"{name}/{slot}/{i}".encode()) for i in range(count)]
    if any(chunk is None for chunk in chunks):
        raise CheckpointRefused(f"{where} is missing chunks of generation {generation}; {afresh}", reason="incomplete")
    payload = b"".join(c for c in chunks if c is not None)
    if hashlib.sha256(payload).hexdigest() != manifest.get("sha256"):
        raise CheckpointRefused(f"{where} does not match its checksum (generation {generation}); {afresh}", reason="incomplete")
    _authenticate(topic, name, generation, payload, manifest.get("signature"), keys)
    try:
        state = load(payload)
    except Exception as exc:  # a class moved or changed since it was written: nothing half-restored
        raise CheckpointRefused(
            f"{where} cannot be read by this release ({type(exc).__name__}: {exc}): it was written by a release whose "
            f"state this one does not load; run that release until it is drained, or {afresh}",
            reason="unreadable",
        ) from None
    return state, generation


def _authenticate(topic: str, name: str, generation: int, payload: bytes, signature: object, keys: StateKeys) -> None:
    """Return when the checkpoint may be unpickled; raise CheckpointRefused otherwise."""
    where = f"checkpoint {name} on {topic}"
    afresh = _afresh(topic, name)
    if signature is None:
        if not keys.keys:
            return  # the worker warned at start that it restores unverified state
        if keys.accept_unsigned:
            log.warning(
                "%s is unsigned (an earlier release or a worker without keys): restored, as %s allows", where, _UNSIGNED_SETTING
            )
            return
        raise CheckpointRefused(
            f"{where} is unsigned (written by a release before signed state, or by a worker without {KEYS_SETTING}), so it "
            f"was not unpickled. If only workers could write {topic}, set {_UNSIGNED_SETTING} to true "
            f"for one start (it is signed when next written); or {afresh}",
            reason="unsigned",
        )
    if not keys.keys:
        raise CheckpointRefused(
            f"{where} is signed but {KEYS_SETTING} is not set, so it cannot be verified and was not unpickled: set the key "
            f"the other workers sign with",
            reason="no_key",
        )
    if not isinstance(signature, str) or not keys.verifies(name, generation, payload, signature):
        raise CheckpointRefused(
            f"{where} has a signature that none of {KEYS_SETTING} verifies, so it was not unpickled: it was forged, "
            f"tampered with, or signed with a key no longer listed (keep an old key after the new one until every "
            f"checkpoint is rewritten); or {afresh}",
            reason="bad_signature",
        )


def _afresh(topic: str, name: str) -> str:
    return f"to start its partition afresh instead, delete the checkpoint (a null value under the key {name}/manifest on {topic})"


_identity: Callable[[bytes], bytes] = bytes
