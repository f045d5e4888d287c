import base64

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.codec import dead_letter, decode, encode, kept_json
from streams.errors import DecodeError
from streams.events import FeatureEvent, LabelEvent, PredictionEvent

GOOD = {
    "model": "churn",
    "model_version": "3",
    "prediction_id": "p-1",
    "event_time": "2026-11-24T12:00:00",
    "features": {"tenure": 14, "plan": "pro", "spend": 12.5, "vip": True, "region": None},
    "prediction": 0,
    "score": 0.21,
}


def test_a_valid_prediction_decodes_with_a_utc_time() -> None:
    event = decode(PredictionEvent, orjson.dumps(GOOD))
    assert event.features["plan"] == "pro" and event.event_time.utcoffset().total_seconds() == 0
    assert decode(PredictionEvent, encode(event)) == event


def test_epoch_seconds_are_accepted_as_event_time() -> None:
    event = decode(LabelEvent, b'{"prediction_id": "p", "event_time": 1764000000, "label": 1}')
    assert event.event_time.year == 2025


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "(event): Input should be an object"),
        (orjson.dumps({**GOOD, "features": {"x": [1]}}), "features.x: wrong type (list)"),
        (orjson.dumps({**GOOD, "features": {"prediction": 1}}), "reserved"),
        (orjson.dumps({k: v for k, v in GOOD.items() if k != "model_version"}), "model_version: Field required"),
        (orjson.dumps({**GOOD, "event_time": "yesterday"}), "event_time:"),
        (orjson.dumps({**GOOD, "surprise": 1}), "surprise: Extra inputs are not permitted"),
        (orjson.dumps({**GOOD, "model": ""}), "model:"),
    ],
)
def test_invalid_predictions_raise_a_one_line_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(PredictionEvent, raw)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_feature_events_need_features() -> None:
    with pytest.raises(DecodeError, match="features"):
        decode(FeatureEvent, b'{"model": "m", "prediction_id": "p", "event_time": 1, "features": {}}')


def test_empty_message_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="empty"):
        decode(PredictionEvent, None)


def test_dead_letter_keeps_original_bytes_and_coordinates() -> None:
    raw = b"\x00\xff not utf-8"
    record = dead_letter("bad", topic="t", partition=2, offset=41, timestamp_ms=5, key=b"k", value=raw)
    assert base64.b64decode(record.value_b64) == raw and record.value_text is None
    assert (record.topic, record.partition, record.offset, record.error) == ("t", 2, 41, "bad")
    assert orjson.loads(encode(record))["key_b64"] == base64.b64encode(b"k").decode()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=256).map(str.encode))
def test_any_bytes_either_decode_or_raise_decode_error(raw: bytes) -> None:
    for model in (PredictionEvent, FeatureEvent, LabelEvent):
        try:
            decode(model, raw)
        except DecodeError as exc:
            assert str(exc)


def test_kept_json_holds_no_more_memory_than_its_size() -> None:
    """A thousand waiting predictions' features must weigh about their bytes, not orjson's buffers."""
    import tracemalloc

    features = {f"x{i}": 0.1234 * i for i in range(16)} | {f"c{i}": f"v{i}" for i in range(4)}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [kept_json(features) for _ in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert orjson.loads(kept[0]) == features
    assert held < 1000 * (len(kept[0]) + 100)
