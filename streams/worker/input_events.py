"""The input events as the worker holds them: plain structs, decoded and checked in one pass.

:mod:`streams.events` is the contract (what producers may send, its JSON
schema, the messages that say what is wrong). Validating every message with
it costs more than anything else the worker does to a message but learn from
it, so the worker reads its inputs with :func:`read_input`: msgspec decodes
the JSON straight into the structs below and checks the same types and
lengths, then the few rules msgspec cannot say (finite numbers, 64-bit
integers, event times within the calendar the worker can count in, the
reserved feature name) are checked in one pass. Anything that fails any of
this goes to :func:`streams.codec.decode`, which rejects it with today's one-line
reason, or accepts it (an event time written as a number, or in an ISO 8601
form that is not RFC 3339) and is turned into the same struct.

A property test keeps the two readers equal: for any bytes, the same event
or the same reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from pydantic import BaseModel, TypeAdapter, ValidationError

from streams.codec import DEFAULT_MAX_MESSAGE_BYTES, decode, plain, representable_time
from streams.events import PREDICTION_COLUMN, FeatureEvent, LabelEvent, PredictionEvent

__all__ = ["FeaturesIn", "LabelIn", "PredictionIn", "read_input"]

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Value = bool | int | float | str | None
_Output = bool | int | float | str


class _Input(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # Decoded as the JSON value it is; read by pydantic's own datetime rules in _checked.
    event_time: Any


class PredictionIn(_Input, frozen=True, forbid_unknown_fields=True):
    """A :class:`~streams.events.PredictionEvent`, as the worker holds it."""

    model: _Name
    model_version: _Name
    prediction_id: _Name
    prediction: _Output
    features: dict[_Name, _Value] = {}
    score: float | int | None = None
    probabilities: dict[_Name, float | int] | None = None
    segment: dict[_Name, str] = {}


class FeaturesIn(_Input, frozen=True, forbid_unknown_fields=True):
    """A :class:`~streams.events.FeatureEvent`, as the worker holds it."""

    model: _Name
    prediction_id: _Name
    features: Annotated[dict[_Name, _Value], msgspec.Meta(min_length=1)]


class LabelIn(_Input, frozen=True, forbid_unknown_fields=True):
    """A :class:`~streams.events.LabelEvent`, as the worker holds it."""

    prediction_id: _Name
    label: _Output
    model: _Name | None = None


InputIn = PredictionIn | FeaturesIn | LabelIn

_CONTRACT: Final[dict[type[Any], type[BaseModel]]] = {
    PredictionIn: PredictionEvent,
    FeaturesIn: FeatureEvent,
    LabelIn: LabelEvent,
}
_DECODERS: Final[dict[type[Any], msgspec.json.Decoder[Any]]] = {kind: msgspec.json.Decoder(kind) for kind in _CONTRACT}
_TIME = TypeAdapter(datetime)


def read_input(kind: type[Any], raw: bytes | None, *, max_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """Decode one input message as ``kind`` (:class:`PredictionIn`, :class:`FeaturesIn` or :class:`LabelIn`).

    Accepts exactly what :func:`streams.codec.decode` accepts for the matching
    event of :mod:`streams.events`, with the same values.

    Raises
    ------
    DecodeError
        With :func:`streams.codec.decode`'s one-line reason.

    >>> read_input(LabelIn, b'{"prediction_id": "p1", "event_time": "2026-01-01T00:00:00Z", "label": true}').label
    True
    >>> read_input(LabelIn, b'{"prediction_id": "p1", "event_time": 0, "label": 1}').event_time.year
    1970
    >>> read_input(LabelIn, b'{"prediction_id": "p1", "event_time": 0, "label": NaN}')
    Traceback (most recent call last):
    ...
    streams.errors.DecodeError: invalid LabelEvent: label: not a finite number (nan)
    """
    if raw is not None and (max_bytes is None or len(raw) <= max_bytes):
        try:
            event = _DECODERS[kind].decode(raw)
        # msgspec raises RecursionError, not its own error, for a value nested deeper than
        # Python's stack allows (an event_time of a thousand nested lists).
        except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
            pass
        else:
            checked = _checked(event)
            if checked is not None:
                return checked
    # Rejected above, or in doubt: the contract's reader says why, or accepts it as it reads.
    accepted = decode(_CONTRACT[kind], raw, max_bytes=max_bytes)
    return kind(**accepted.__dict__)


def _checked(event: Any) -> Any:
    """``event`` with its event time read, when every rule holds; None sends it to the contract's reader."""
    if type(event.event_time) not in (str, int, float):  # not bool: pydantic reads JSON's true as no time
        return None
    try:
        when = _TIME.validate_python(event.event_time)
    except ValidationError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if not representable_time(when):
        return None
    if not plain(getattr(event, name) for name in event.__struct_fields__):
        return None
    features = getattr(event, "features", None)
    if features is not None and PREDICTION_COLUMN in features:
        return None
    return msgspec.structs.replace(event, event_time=when)
