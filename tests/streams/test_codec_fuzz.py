"""Property-based fuzzing of the decoder and the dead-letter record: bad input never raises anything but DecodeError.

For every input model, arbitrary bytes, arbitrary JSON values and near-valid
events (a valid event with one field removed, retyped or replaced by a raw
token: NaN, Infinity, huge numbers, deep nesting, invalid UTF-8, very long
strings) either decode to an event that encodes back to itself, or raise
:class:`DecodeError` with a one-line reason. A dead-letter record of any
message never raises, keeps its coordinates and its bytes (whole, or a prefix
with the size and hash of the whole), and fits the size limit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import DEFAULT_MAX_MESSAGE_BYTES, dead_letter, decode, encode
from streams.errors import DecodeError
from streams.events import DeadLetter, FeatureEvent, LabelEvent, PredictionEvent
from streams.settings import WorkerSettings

MODELS = (PredictionEvent, FeatureEvent, LabelEvent)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Longest reason a dead letter carries (codec._MAX_ERROR_CHARS), whatever the input.
MAX_REASON = 2000
RAW = "\u0000raw\u0000"  # a placeholder string, replaced by a raw JSON token after serialisation


def assert_decodes_or_rejects(raw: bytes | None) -> None:
    """The property: each model returns an event that encodes back to itself, or raises a one-line DecodeError."""
    for model in MODELS:
        try:
            event = decode(model, raw)
        except DecodeError as exc:
            reason = str(exc)
            assert reason and reason.splitlines() == [reason] and len(reason) <= MAX_REASON, reason
        else:
            assert isinstance(event, model)
            assert decode(model, encode(event)) == event


# -- strategies ----------------------------------------------------------------

names = st.text(min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
feature_values = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | finite | st.text(max_size=12)
features = st.dictionaries(names.filter(lambda n: n != "prediction"), feature_values, max_size=4)
event_times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.none() | st.just(UTC)
).map(datetime.isoformat) | st.integers(0, 2_000_000_000)
outputs = st.booleans() | st.integers(-(10**6), 10**6) | finite | st.text(max_size=8)

predictions = st.fixed_dictionaries(
    {
        "model": names,
        "model_version": names,
        "prediction_id": names,
        "event_time": event_times,
        "features": features,
        "prediction": outputs,
    },
    optional={
        "score": st.none() | st.floats(0, 1) | st.integers(0, 1),
        "probabilities": st.none() | st.dictionaries(names, st.floats(0, 1), max_size=3),
        "segment": st.dictionaries(names, st.text(max_size=8), max_size=2),
    },
)
feature_events = st.fixed_dictionaries(
    {"model": names, "prediction_id": names, "event_time": event_times, "features": features.filter(bool)}
)
labels = st.fixed_dictionaries(
    {"prediction_id": names, "event_time": event_times, "label": outputs}, optional={"model": st.none() | names}
)
valid_events = st.sampled_from([(PredictionEvent, predictions), (FeatureEvent, feature_events), (LabelEvent, labels)]).flatmap(
    lambda pair: st.tuples(st.just(pair[0]), pair[1])
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _nested(depth: int, kind: str) -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


raw_tokens = st.one_of(
    st.sampled_from(["NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1" + "0" * 400, "-" + "9" * 30]),
    st.sampled_from([str(2**63), str(2**64), str(-(2**63) - 1), "18446744073709551615", "0.1e99999999"]),
    st.tuples(st.integers(1, 3000), st.sampled_from(["list", "dict"])).map(lambda t: _nested(*t)),
    st.sampled_from(['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\uZZZZ"', '"unterminated', "tru", "[1,]", "{}", "[]"]),
    st.sampled_from(
        ['"9999-12-31T23:59:59.999999Z"', '"0001-01-01T00:00:00Z"', '"9999-12-31T23:59:59-12:00"', "1e18", "-62135596800"]
    ),
    st.integers(1, 300_000).map(lambda n: json.dumps("x" * n)),
)
invalid_utf8 = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"])


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """A valid event's JSON with one thing wrong (or, now and then, nothing wrong)."""
    _, event = draw(valid_events)
    event = dict(event)
    mutation = draw(st.sampled_from(["none", "drop", "retype", "extra", "feature", "raw", "raw_feature", "utf8", "long_name"]))
    field = draw(st.sampled_from(sorted(event)))
    if mutation == "drop":
        del event[field]
    elif mutation == "retype":
        event[field] = draw(json_values)
    elif mutation == "extra":
        event[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    elif mutation == "feature":
        event["features"] = {**event.get("features", {}), draw(names): draw(json_values)}
    elif mutation in ("raw", "raw_feature", "utf8"):
        if mutation == "raw_feature":
            event["features"] = {**event.get("features", {}), draw(names): RAW}
        else:
            event[field] = RAW
    elif mutation == "long_name":
        event["features"] = {**event.get("features", {}), draw(st.sampled_from(["\n", "a\r\nb", "\u2028", "x" * 5000])): 1}
    text = json.dumps(event).encode()
    placeholder = json.dumps(RAW).encode()
    if mutation == "utf8":
        return text.replace(placeholder, b'"' + draw(invalid_utf8) + b'"')
    if mutation in ("raw", "raw_feature"):
        return text.replace(placeholder, draw(raw_tokens).encode())
    return text


# -- decode ----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_a_one_line_decode_error(raw: bytes) -> None:
    assert_decodes_or_rejects(raw)


@FUZZ
@given(json_values)
def test_arbitrary_json_values_decode_or_raise_a_one_line_decode_error(value: Any) -> None:
    # The standard library writes NaN, Infinity and integers of any size, as many producers do.
    assert_decodes_or_rejects(json.dumps(value).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(near_valid())
def test_near_valid_events_decode_or_raise_a_one_line_decode_error(raw: bytes) -> None:
    assert_decodes_or_rejects(raw)


@FUZZ
@given(valid_events)
def test_valid_events_decode_and_encode_back_to_themselves(pair: tuple[type[Any], dict[str, Any]]) -> None:
    model, event = pair
    decoded = decode(model, orjson.dumps(event))
    assert decode(model, encode(decoded)) == decoded


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("NaN", "features.x: not a finite number (nan)"),
        ("-Infinity", "features.x: not a finite number (-inf)"),
        ("1e400", "features.x: not a finite number (inf)"),
        (str(2**64), "features.x: integer out of the 64-bit range"),
    ],
)
def test_numbers_that_encode_cannot_write_back_are_rejected(token: str, reason: str) -> None:
    raw = b'{"model": "m", "prediction_id": "p", "event_time": 0, "features": {"x": %s}}' % token.encode()
    with pytest.raises(DecodeError, match=re.escape(reason)):
        decode(FeatureEvent, raw)


@pytest.mark.parametrize("event_time", ['"9999-12-31T23:59:59.999999Z"', '"0001-01-01T00:00:00Z"', '"0999-12-31T23:59:59Z"'])
def test_event_times_at_the_ends_of_the_calendar_are_rejected(event_time: str) -> None:
    # The worker adds windows, ttls and lateness to event times: near datetime's limits that overflows.
    raw = b'{"prediction_id": "p", "event_time": %s, "label": 1}' % event_time.encode()
    with pytest.raises(DecodeError, match="event_time: out of the supported range"):
        decode(LabelEvent, raw)


def test_a_field_name_cannot_break_the_reason_into_lines() -> None:
    raw = b'{"model": "m", "prediction_id": "p", "event_time": 0, "features": {"a\\nb\\u2028c": [1]}}'
    with pytest.raises(DecodeError) as info:
        decode(FeatureEvent, raw)
    assert str(info.value) == "invalid FeatureEvent: features.a\\nb\\u2028c: wrong type (list)"


def test_a_message_over_the_limit_is_rejected_without_being_parsed() -> None:
    huge = b'{"model": "' + b"m" * (10 * 2**20) + b'"}'
    started = time.perf_counter()
    with pytest.raises(
        DecodeError, match=f"message of {len(huge)} bytes is larger than the limit of {DEFAULT_MAX_MESSAGE_BYTES}"
    ):
        decode(PredictionEvent, huge)
    assert time.perf_counter() - started < 0.05
    assert WorkerSettings().max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES


# -- dead letters ----------------------------------------------------------------

values = (
    st.none()
    | st.binary(max_size=512)
    | st.tuples(st.binary(min_size=1, max_size=64), st.integers(1, 4000)).map(lambda t: t[0] * t[1])
)
keys = st.none() | st.binary(max_size=64) | st.integers(1000, 3000).map(lambda n: b"k" * n)


def assert_keeps_the_message(record: DeadLetter, key: bytes | None, value: bytes | None, max_bytes: int) -> None:
    raw = value or b""
    written = encode(record)
    kept_key = base64.b64decode(record.key_b64) if record.key_b64 is not None else None
    # Its Kafka record (the kept key and this value) fits the limit.
    assert len(written) + len(kept_key or b"") + 256 <= max_bytes
    assert DeadLetter.model_validate_json(written) == record
    kept = base64.b64decode(record.value_b64, validate=True)
    assert record.value_bytes == len(raw) and record.value_sha256 == hashlib.sha256(raw).hexdigest()
    if record.value_truncated:
        assert len(kept) < len(raw) and raw.startswith(kept) and record.value_text is None
    else:
        assert kept == raw
    if record.value_text is not None:
        assert record.value_text.encode("utf-8") == raw
    if key is None:
        assert kept_key is None and not record.key_truncated
    else:
        assert kept_key is not None and key.startswith(kept_key) and record.key_truncated == (kept_key != key)
    assert record.error.splitlines() == [record.error] or record.error == ""


@FUZZ
@given(
    error=st.text(max_size=3000),
    topic=st.text(min_size=1, max_size=40),
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
    timestamp_ms=st.none() | st.integers(0, 2**63 - 1),
    key=keys,
    value=values,
    max_bytes=st.integers(16_384, 300_000),
)
def test_a_dead_letter_of_any_message_keeps_its_coordinates_and_bytes_within_the_limit(
    error: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
    max_bytes: int,
) -> None:
    record = dead_letter(
        error,
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        max_bytes=max_bytes,
    )
    assert (record.topic, record.partition, record.offset, record.timestamp_ms) == (topic, partition, offset, timestamp_ms)
    assert_keeps_the_message(record, key, value, max_bytes)


@FUZZ
@given(st.binary(max_size=4096))
def test_a_dead_letter_of_a_small_message_keeps_it_whole(raw: bytes) -> None:
    record = dead_letter("bad", topic="t", partition=1, offset=2, timestamp_ms=None, key=b"m", value=raw)
    assert not record.value_truncated and base64.b64decode(record.value_b64) == raw
    try:
        assert record.value_text == raw.decode("utf-8")
    except UnicodeDecodeError:
        assert record.value_text is None


def test_the_dead_letter_of_a_10_mb_message_fits_the_default_limit() -> None:
    raw = bytes(range(256)) * (10 * 2**20 // 256)
    record = dead_letter("too large", topic="t", partition=0, offset=9, timestamp_ms=1, key=b"credit-risk", value=raw)
    assert record.value_truncated and record.value_bytes == len(raw)
    assert len(encode(record)) <= DEFAULT_MAX_MESSAGE_BYTES - 256 - len(b"credit-risk")
    # Most of the room holds the value's first bytes.
    assert len(base64.b64decode(record.value_b64)) > 0.7 * DEFAULT_MAX_MESSAGE_BYTES
    assert_keeps_the_message(record, b"credit-risk", raw, DEFAULT_MAX_MESSAGE_BYTES)
