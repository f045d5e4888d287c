"""The worker's reader of input events accepts exactly what the contract accepts, with the same values, and rejects the rest with the same reason."""

from __future__ import annotations

import json
import pickle
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_codec_fuzz import FUZZ, json_values, near_valid, valid_events

from streams.codec import decode
from streams.errors import DecodeError
from streams.events import FeatureEvent, LabelEvent, PredictionEvent
from streams.worker.input_events import FeaturesIn, LabelIn, PredictionIn, read_input

PAIRS = ((PredictionIn, PredictionEvent), (FeaturesIn, FeatureEvent), (LabelIn, LabelEvent))


def outcome(read: Any, kind: type[Any], raw: bytes | None) -> tuple[str, Any]:
    try:
        event = read(kind, raw)
    except DecodeError as exc:
        return "rejected", str(exc)
    return "accepted", {
        name: getattr(event, name)
        for name in sorted(PredictionEvent.model_fields | LabelEvent.model_fields)
        if hasattr(event, name)
    }


def assert_same_as_the_contract(raw: bytes | None) -> None:
    for fast, contract in PAIRS:
        mine, theirs = outcome(read_input, fast, raw), outcome(decode, contract, raw)
        assert mine == theirs, (fast.__name__, raw[:300] if raw else raw)
        if mine[0] == "accepted":
            times = read_input(fast, raw).event_time, decode(contract, raw).event_time
            assert times[0].utcoffset() == times[1].utcoffset() and times[0].isoformat() == times[1].isoformat()


@FUZZ
@given(valid_events)
def test_valid_events_read_as_the_contract_reads_them(pair: tuple[type[Any], dict[str, Any]]) -> None:
    assert_same_as_the_contract(orjson.dumps(pair[1]))


@FUZZ
@given(near_valid())
def test_events_with_one_thing_wrong_are_rejected_with_the_contracts_reason(raw: bytes) -> None:
    assert_same_as_the_contract(raw)


@FUZZ
@given(json_values)
def test_any_json_value_reads_as_the_contract_reads_it(value: Any) -> None:
    assert_same_as_the_contract(json.dumps(value).encode())


@FUZZ
@given(st.binary(max_size=512))
def test_any_bytes_read_as_the_contract_reads_them(raw: bytes) -> None:
    assert_same_as_the_contract(raw)


def test_the_odd_cases_read_as_the_contract_reads_them() -> None:
    base = b'{"prediction_id": "p", "label": 1, "event_time": %s}'
    for time in [
        b'"2026-01-01T00:00:00.1234567Z"',  # more digits than microseconds: cut, not rounded
        b'"2026-01-01 00:00:00"',
        b'"2026-01-01"',
        b'"2026-01-01T00:00:00+02:00"',
        b"1764000000",
        b"1764000000.5",
        b"1764000000000",  # milliseconds, as pydantic reads them
        b'"1764000000"',
        b"true",
        b"null",
        b'"9999-12-31T23:59:59Z"',
        b'"0999-12-31T23:59:59Z"',
    ]:
        assert_same_as_the_contract(base % time)
    assert_same_as_the_contract(b'{"model": "m", "prediction_id": "p", "event_time": 0, "features": {"prediction": 1}}')
    assert_same_as_the_contract(b'{"model": "m", "prediction_id": "p", "event_time": 0, "features": {}}')
    assert_same_as_the_contract(b'{"prediction_id": "p", "label": 1, "event_time": 0, "label": 2}')


def test_an_event_read_pickles_whole() -> None:
    event = read_input(
        PredictionIn,
        b'{"model": "m", "model_version": "1", "prediction_id": "p", "event_time": 0, "prediction": 1, "features": {"x": 1.5}}',
    )
    assert pickle.loads(pickle.dumps(event)) == event


@pytest.mark.parametrize("field", ["event_time", "label", "prediction_id"])
def test_a_value_nested_deeper_than_the_stack_is_rejected_with_a_reason_not_an_exception(field: str) -> None:
    nested = b"[" * 1000 + b"]" * 1000
    fields = {"prediction_id": b'"p"', "event_time": b"0", "label": b"1"} | {field: nested}
    raw = b"{" + b",".join(b'"%s":%s' % (name.encode(), value) for name, value in fields.items()) + b"}"
    with pytest.raises(DecodeError, match="recursion limit"):
        read_input(LabelIn, raw)
