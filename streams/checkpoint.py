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

Pickle runs code when it loads: the state topic must be writable by the
workers only (with ACLs on a shared cluster).
"""

from __future__ import annotations

import hashlib
import pickle
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from streams.alerting import read_latest
from streams.settings import KafkaSettings

__all__ = ["CHUNK_BYTES", "load_checkpoints", "pack", "partition_checkpoint"]

CHUNK_BYTES = 512 * 1024
_FORMAT = 1


def pack(pickled: bytes, name: str, generation: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) records of a checkpoint from its pickled state, to be sent in order: chunks, then the manifest.

    Compressing and hashing release the GIL, so the worker runs this in a thread.

    >>> records = pack(pickle.dumps({"offsets": {("t", 0): 7}}), "group", generation=3)
    >>> [key.decode() for key, _ in records]
    ['group/1/0', 'group/manifest']
    """
    payload = zlib.compress(pickled, level=1)
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
