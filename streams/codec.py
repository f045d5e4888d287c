"""Bytes to events and events to bytes, and the dead-letter record of a bad message."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from streams.errors import DecodeError
from streams.events import DeadLetter, FeatureEvent, LabelEvent, PredictionEvent

InputKind = Literal["predictions", "features", "labels"]
INPUT_MODELS: dict[InputKind, type[PredictionEvent] | type[FeatureEvent] | type[LabelEvent]] = {
    "predictions": PredictionEvent,
    "features": FeatureEvent,
    "labels": LabelEvent,
}

_MAX_REPORTED_ERRORS = 5

E = TypeVar("E", bound=BaseModel)


def decode(model: type[E], raw: bytes | None) -> E:
    """Parse and validate one message value as ``model``.

    Raises
    ------
    DecodeError
        With a one-line reason: not JSON, or which fields are wrong and why.
    """
    if raw is None:
        raise DecodeError("empty message (no value)")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise DecodeError(_describe(exc, model.__name__)) from exc


def encode(event: BaseModel) -> bytes:
    """Serialise an event to compact JSON."""
    return orjson.dumps(event.model_dump(mode="json"))


def dead_letter(
    error: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
) -> DeadLetter:
    """Build the dead-letter record of a message, keeping its original bytes."""
    raw = value or b""
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return DeadLetter(
        error=error,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key_b64=base64.b64encode(key).decode("ascii") if key is not None else None,
        value_b64=base64.b64encode(raw).decode("ascii"),
        value_text=text,
        dead_lettered_at=datetime.now(timezone.utc),
    )


def _describe(exc: ValidationError, name: str) -> str:
    errors = exc.errors(include_url=False)
    if len(errors) == 1 and errors[0]["type"] in {"json_invalid", "json_type"}:
        return f"not valid JSON: {errors[0]['msg']}"
    reasons: dict[str, str] = {}
    for error in errors:
        # A value that fits no member of a union gives one error per member;
        # one line per field is what a reader needs.
        where = ".".join(str(part) for part in error["loc"] if part not in _UNION_MEMBERS) or "(event)"
        reasons.setdefault(where, _short(error))
    shown = [f"{where}: {why}" for where, why in list(reasons.items())[:_MAX_REPORTED_ERRORS]]
    more = len(reasons) - len(shown)
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"invalid {name}: " + "; ".join(shown) + suffix


_UNION_MEMBERS = {"bool", "int", "float", "str", "none", "datetime"}


def _short(error: ErrorDetails) -> str:
    if error["loc"] and str(error["loc"][-1]) in _UNION_MEMBERS:
        return f"wrong type ({type(error['input']).__name__})"
    return str(error["msg"])
