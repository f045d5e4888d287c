"""Bytes to events and events to bytes, and the dead-letter record of a bad message.

:func:`decode` accepts only what :func:`encode` can write back unchanged: JSON
numbers must be finite and integers must fit in 64 bits (``NaN``, ``Infinity``
and ``1e400`` are rejected, not read as floats that would poison an online
model), and event times must stay far enough from the calendar's ends for the
worker's time arithmetic (windows, label deadlines). A message larger than the
size limit is rejected before it is parsed. Every rejection is a
:class:`~streams.errors.DecodeError` with a one-line reason.

:func:`dead_letter` keeps a rejected message's coordinates and original bytes
in a record that never exceeds the size limit, so the dead-letter topic
accepts it: a value too large to keep in full is cut, and its size and
SHA-256 say what it was.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from streams.errors import DecodeError
from streams.events import DeadLetter, FeatureEvent, LabelEvent, PredictionEvent

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "INPUT_MODELS",
    "InputKind",
    "dead_letter",
    "decode",
    "encode",
    "encode_dead_letter",
    "record_bytes",
    "kept_json",
    "plain",
    "representable_time",
]

InputKind = Literal["predictions", "features", "labels"]
INPUT_MODELS: dict[InputKind, type[PredictionEvent] | type[FeatureEvent] | type[LabelEvent]] = {
    "predictions": PredictionEvent,
    "features": FeatureEvent,
    "labels": LabelEvent,
}

# The default of worker.max_message_bytes: Faust's producer limit, and under
# Kafka's default message.max.bytes (1,048,588) with room for the framing.
DEFAULT_MAX_MESSAGE_BYTES = 1_000_000
# Kafka's record batch framing around a record's key and value, with room to spare.
_RECORD_OVERHEAD = 256
_MAX_KEPT_KEY_BYTES = 1024
_MAX_ERROR_CHARS = 2000
_MAX_NAME_CHARS = 64
_MAX_REPORTED_ERRORS = 5
# What orjson, and so encode(), can write.
_MIN_INT, _MAX_INT = -(2**63), 2**64 - 1
# A thousand years from datetime's limits: room for any window, ttl or lateness.
_EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)

E = TypeVar("E", bound=BaseModel)


def decode(model: type[E], raw: bytes | None, *, max_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES) -> E:
    """Parse and validate one message value as ``model``.

    Parameters
    ----------
    model
        The event class.
    raw
        The message value; None for a tombstone.
    max_bytes
        A longer value is rejected without being parsed (``worker.max_message_bytes``); None: no limit.

    Raises
    ------
    DecodeError
        With a one-line reason: too large, not JSON, or which fields are wrong and why.

    >>> decode(LabelEvent, b'{"prediction_id": "p1", "event_time": 0, "label": true}').label
    True
    >>> decode(LabelEvent, b'{"prediction_id": "p1", "event_time": 0, "label": NaN}')
    Traceback (most recent call last):
    ...
    streams.errors.DecodeError: invalid LabelEvent: label: not a finite number (nan)
    """
    if raw is None:
        raise DecodeError("empty message (no value: a tombstone)")
    if max_bytes is not None and len(raw) > max_bytes:
        raise DecodeError(
            f"message of {len(raw)} bytes is larger than the limit of {max_bytes} (worker.max_message_bytes); not parsed"
        )
    try:
        event = model.model_validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(_describe(exc, model.__name__)) from exc
    if not plain(event.__dict__.values()):
        problems = dict(_unrepresentable(event))
        if problems:
            raise DecodeError(f"invalid {model.__name__}: " + _joined(problems))
    return event


def record_bytes(key: bytes | None, value: bytes) -> int:
    """The bytes a record takes in a produce request, framing included (an upper estimate).

    >>> record_bytes(b"churn", b"{}")
    263
    """
    return len(key or b"") + len(value) + _RECORD_OVERHEAD


def encode(event: BaseModel) -> bytes:
    """Serialise an event to compact JSON."""
    return orjson.dumps(event.model_dump(mode="json"))


def kept_json(value: Any) -> bytes:
    """``value`` as compact JSON, in a bytes object of its own size, to be kept in memory.

    orjson hands out its write buffer as the bytes object, capacity included:
    about 8 KB for a 300-byte document (orjson 3.13, measured with tracemalloc).
    Sent at once, that does not matter; held by the hundred thousand (the
    predictions waiting for their label), it is gigabytes.

    >>> kept_json({"age": 41})
    b'{"age":41}'
    """
    return bytes(memoryview(orjson.dumps(value)))


def dead_letter(
    error: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> DeadLetter:
    """Build the dead-letter record of a message, keeping as much of its original bytes as fits.

    The record, with the original key as its Kafka key (see
    :func:`encode_dead_letter`), stays within ``max_bytes``: a value too large
    for it loses its text copy (``value_text``), then its end
    (``value_truncated``). ``value_bytes`` and ``value_sha256`` always describe
    the whole original value, which the coordinates still point to for its
    topic's retention.

    >>> record = dead_letter("bad", topic="t", partition=0, offset=7, timestamp_ms=None, key=b"m", value=b"x" * 3000, max_bytes=2048)
    >>> record.value_truncated, record.value_bytes, len(base64.b64decode(record.value_b64)) < 3000
    (True, 3000, True)
    """
    raw = value or b""
    kept_key = key[:_MAX_KEPT_KEY_BYTES] if key is not None else None
    full = DeadLetter(
        error=_one_line(error, _MAX_ERROR_CHARS),
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key_b64=base64.b64encode(kept_key).decode("ascii") if kept_key is not None else None,
        key_truncated=key is not None and len(key) > _MAX_KEPT_KEY_BYTES,
        value_b64="",
        value_text=None,
        value_bytes=len(raw),
        value_sha256=hashlib.sha256(raw).hexdigest(),
        value_truncated=False,
        dead_lettered_at=datetime.now(UTC),
    )
    room = max_bytes - _RECORD_OVERHEAD - len(kept_key or b"") - len(encode(full))
    # base64 writes 4 characters for every 3 bytes (or part of them).
    if 4 * math.ceil(len(raw) / 3) > room:
        kept = raw[: max(0, room) // 4 * 3]
        return full.model_copy(update={"value_b64": _b64(kept), "value_truncated": True})
    record = full.model_copy(update={"value_b64": _b64(raw)})
    text = _utf8(raw)
    # The cheap bound first: escaping in JSON only lengthens the text.
    if text is not None and 4 * math.ceil(len(raw) / 3) + len(raw) <= room:
        with_text = record.model_copy(update={"value_text": text})
        if len(encode(with_text)) + _RECORD_OVERHEAD + len(kept_key or b"") <= max_bytes:
            return with_text
    return record


def encode_dead_letter(record: DeadLetter) -> tuple[bytes | None, bytes]:
    """The Kafka key (the original key, as kept) and value of a dead-letter record.

    >>> encode_dead_letter(dead_letter("bad", topic="t", partition=0, offset=7, timestamp_ms=None, key=b"m", value=b"{"))[0]
    b'm'
    """
    key = base64.b64decode(record.key_b64) if record.key_b64 is not None else None
    return key, encode(record)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def plain(values: Iterable[Any]) -> bool:
    """Whether ``encode`` writes each of ``values`` (and each value of a mapping among them) back as it is.

    The question every message asks, so it is answered in one pass without
    naming what is wrong; False sends the event to :func:`_unrepresentable`
    (or to :func:`decode`), which says why.

    >>> plain(["m", 3, {"x": 1.5, "plan": None}]), plain([{"x": float("nan")}]), plain([2**64])
    (True, False, False)
    """
    for value in values:
        if type(value) is dict:
            if not all(map(_plain_scalar, value.values())):
                return False
        elif not _plain_scalar(value):
            return False
    return True


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind is int:
        return _MIN_INT <= value <= _MAX_INT
    if kind is datetime:
        return representable_time(value)
    return kind is str or kind is bool or value is None


def _unrepresentable(event: BaseModel) -> Iterator[tuple[str, str]]:
    """(field, reason) for each value ``encode`` could not write back as it is."""
    for name, value in event:
        yield from _check(name, value)


def _check(where: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, float) and not math.isfinite(value):
        yield where, f"not a finite number ({value})"
    elif isinstance(value, int) and not _MIN_INT <= value <= _MAX_INT:
        yield where, "integer out of the 64-bit range"
    elif isinstance(value, datetime) and not representable_time(value):
        yield where, f"out of the supported range ({_EARLIEST.year} to {_LATEST.year - 1})"
    elif isinstance(value, dict):
        for key, item in value.items():
            # Features and the like: dozens of plain values an event, passed here without a generator each.
            kind = type(item)
            if kind is str or kind is bool or item is None or (kind is float and math.isfinite(item)):
                continue
            if kind is int and _MIN_INT <= item <= _MAX_INT:
                continue
            yield from _check(f"{where}.{_name(key)}", item)


def representable_time(value: datetime) -> bool:
    """Whether the worker can count windows, ttls and lateness from ``value`` (far enough from the calendar's ends).

    >>> representable_time(datetime(2026, 1, 1)), representable_time(datetime(1, 1, 1))
    (True, False)
    """
    return _EARLIEST <= _aware(value) < _LATEST


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _describe(exc: ValidationError, name: str) -> str:
    errors = exc.errors(include_url=False)
    if len(errors) == 1 and errors[0]["type"] in {"json_invalid", "json_type"}:
        return _one_line(f"not valid JSON: {errors[0]['msg']}", _MAX_ERROR_CHARS)
    reasons: dict[str, str] = {}
    for error in errors:
        # A value that fits no member of a union gives one error per member;
        # one line per field is what a reader needs.
        where = ".".join(_name(part) for part in error["loc"] if part not in _UNION_MEMBERS) or "(event)"
        reasons.setdefault(where, _short(error))
    return f"invalid {name}: " + _joined(reasons)


def _joined(reasons: dict[str, str]) -> str:
    shown = [f"{where}: {why}" for where, why in list(reasons.items())[:_MAX_REPORTED_ERRORS]]
    more = len(reasons) - len(shown)
    suffix = f" (and {more} more)" if more > 0 else ""
    return _one_line("; ".join(shown) + suffix, _MAX_ERROR_CHARS)


def _name(part: object) -> str:
    """A field or feature name as it can appear in a one-line reason: escaped, and cut if long."""
    return _one_line(str(part), _MAX_NAME_CHARS)


def _one_line(text: str, limit: int) -> str:
    # Line breaks and other unprintable characters are written as escapes; a
    # producer's field names must not be able to forge lines in a log.
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_UNION_MEMBERS = {"bool", "int", "float", "str", "none", "datetime"}


def _short(error: ErrorDetails) -> str:
    if error["loc"] and str(error["loc"][-1]) in _UNION_MEMBERS:
        return f"wrong type ({type(error['input']).__name__})"
    return _one_line(str(error["msg"]), _MAX_ERROR_CHARS)
