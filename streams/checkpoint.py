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

Pickle runs code when it loads: the state topic must be writable by the
workers only (with ACLs on a shared cluster).
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import signal
import sys
import traceback
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from streams.alerting import read_latest
from streams.settings import KafkaSettings

__all__ = ["CHUNK_BYTES", "Snapshot", "dump", "load_checkpoints", "pack", "partition_checkpoint", "snapshot"]

CHUNK_BYTES = 512 * 1024
_FORMAT = 1


def dump(state: object) -> bytes:
    """The checkpoint payload of a state: pickled, compressed.

    >>> pickle.loads(zlib.decompress(dump({"offsets": 7})))
    {'offsets': 7}
    """
    return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), level=1)


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


def pack(payload: bytes, name: str, generation: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of a checkpoint from its :func:`dump`, to be sent in order: chunks, then the manifest.

    >>> records = pack(dump({"offsets": {("t", 0): 7}}), "group", generation=3)
    >>> [key.decode() for key, _ in records]
    ['group/1/0', 'group/manifest']
    """
    slot = generation % 2
    chunks = [payload[i : i + CHUNK_BYTES] for i in range(0, len(payload), CHUNK_BYTES)] or [b""]
    records = [(f"{name}/{slot}/{i}".encode(), chunk) for i, chunk in enumerate(chunks)]
    manifest = {
        "format": _FORMAT,
        "generation": generation,
        "slot": slot,
        "chunks": len(chunks),
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    records.append((f"{name}/manifest".encode(), orjson.dumps(manifest)))
    return records


def partition_checkpoint(group: str, partition: int) -> str:
    """The checkpoint name of one input partition's state in a consumer group.

    >>> partition_checkpoint("streammon-worker", 2)
    'streammon-worker/p2'
    """
    return f"{group}/p{partition}"


def load_checkpoints(kafka: KafkaSettings, topic: str, names: Iterable[str]) -> dict[str, tuple[Any, int]]:
    """The latest whole checkpoint of each of ``names`` that has one, reading the topic once.

    Raises
    ------
    ValueError
        When a manifest's chunks do not match its checksum (the topic was
        written by something else, or compaction lost a chunk).
    """
    latest = read_latest(kafka, topic, decode=_identity)
    found = {}
    for name in names:
        checkpoint = _whole(latest, topic, name)
        if checkpoint is not None:
            found[name] = checkpoint
    return found


def _whole(latest: Mapping[bytes, bytes], topic: str, name: str) -> tuple[Any, int] | None:
    manifest_raw = latest.get(f"{name}/manifest".encode())
    if manifest_raw is None:
        return None
    manifest = orjson.loads(manifest_raw)
    if manifest.get("format") != _FORMAT:
        raise ValueError(f"checkpoint {name} on {topic} has format {manifest.get('format')}, expected {_FORMAT}")
    chunks = [latest.get(f"{name}/{manifest['slot']}/{i}".encode()) for i in range(manifest["chunks"])]
    if any(chunk is None for chunk in chunks):
        raise ValueError(f"checkpoint {name} on {topic} is missing chunks of generation {manifest['generation']}")
    payload = b"".join(c for c in chunks if c is not None)
    if hashlib.sha256(payload).hexdigest() != manifest["sha256"]:
        raise ValueError(f"checkpoint {name} on {topic} does not match its checksum (generation {manifest['generation']})")
    return pickle.loads(zlib.decompress(payload)), int(manifest["generation"])


_identity: Callable[[bytes], bytes] = bytes
