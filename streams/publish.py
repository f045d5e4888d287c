"""Publishing events: a small producer API and file replay.

>>> from streams.publish import Publisher                      # doctest: +SKIP
>>> from streams.settings import KafkaSettings                  # doctest: +SKIP
>>> with Publisher(KafkaSettings()) as publisher:               # doctest: +SKIP
...     publisher.send("predictions", {"model": "churn", "model_version": "3",
...         "prediction_id": "p-1", "event_time": "2026-11-24T12:00:00Z",
...         "features": {"tenure": 14, "plan": "pro"}, "prediction": 0, "score": 0.21})

Files (CSV, JSONL or Parquet) replay row by row. A JSONL line is one event as
it would be published. A CSV or Parquet row is flat: columns named like event
fields fill those fields, ``segment.<key>`` columns fill the segment tags and
every other column is a feature.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
import pandas as pd
from kafka import KafkaProducer
from kafka.errors import KafkaError

from streams.codec import INPUT_MODELS, InputKind
from streams.errors import BrokerError, DecodeError
from streams.kafka_clients import client_options
from streams.settings import KafkaSettings

_SEGMENT_PREFIX = "segment."
# Identifiers are strings in the contract, though a table may store them as numbers.
_ID_FIELDS = {"model", "model_version", "prediction_id"}


class Publisher:
    """Send prediction, feature and label events to their topics.

    Events are validated against the contract before they are sent (pass
    ``validate=False`` to send them as they are, e.g. to exercise the
    dead-letter path). Each message is keyed by its model (a label without one, by ``prediction_id``), so
    one model's events stay in order in one partition: its windows depend on that order.
    """

    def __init__(self, kafka: KafkaSettings, *, validate: bool = True) -> None:
        self.kafka = kafka
        self.validate = validate
        self._topics: dict[InputKind, str] = {
            "predictions": kafka.predictions_topic,
            "features": kafka.features_topic,
            "labels": kafka.labels_topic,
        }
        try:
            self._producer = KafkaProducer(**client_options(kafka), acks="all", linger_ms=10)
        except KafkaError as exc:
            raise BrokerError(f"cannot connect to Kafka at {kafka.bootstrap_servers}: {exc}") from exc

    def send(self, kind: InputKind, event: Mapping[str, Any] | bytes) -> None:
        """Send one event (a mapping, or JSON bytes) to the topic of ``kind``."""
        raw = event if isinstance(event, bytes) else orjson.dumps(event, default=_json_default)
        fields: Mapping[str, Any] = event if isinstance(event, Mapping) else {}
        if self.validate:
            try:
                fields = INPUT_MODELS[kind].model_validate_json(raw).model_dump()
            except ValueError as exc:
                raise DecodeError(f"not a valid {kind} event: {exc}") from exc
        key = fields.get("model") or fields.get("prediction_id")
        self._producer.send(self._topics[kind], key=key.encode() if isinstance(key, str) else None, value=raw)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every sent event is acknowledged by the broker."""
        self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        """Flush and disconnect."""
        self._producer.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.flush()
        self.close()


def read_events(path: Path, kind: InputKind, defaults: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any] | bytes]:
    """Yield the events of a CSV, JSONL or Parquet file as mappings (JSONL: as bytes)."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        with path.open("rb") as lines:
            for line in lines:
                if line.strip():
                    yield line.rstrip(b"\r\n")
        return
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in {".parquet", ".pq"}:
        frame = pd.read_parquet(path)
    else:
        raise ValueError(f"{path.name}: expected a .csv, .jsonl or .parquet file")
    fields = set(INPUT_MODELS[kind].model_fields) - {"features", "segment"}
    for record in frame.to_dict(orient="records"):
        yield _event_from_row(record, fields, kind, defaults or {})


def count_events(path: Path) -> int | None:
    """Events in a file, when that is cheap to know (for a progress bar)."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if suffix == ".csv" else lines


def _event_from_row(record: Mapping[str, Any], fields: set[str], kind: InputKind, defaults: Mapping[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = dict(defaults)
    features: dict[str, Any] = {}
    segment: dict[str, str] = {}
    for column, value in record.items():
        value = _plain(value)
        if column in fields:
            if value is not None:
                event[column] = str(value) if column in _ID_FIELDS else value
        elif column.startswith(_SEGMENT_PREFIX):
            if value is not None:
                segment[column[len(_SEGMENT_PREFIX) :]] = str(value)
        else:
            features[column] = value
    if kind != "labels":
        event["features"] = features
    if segment and kind == "predictions":
        event["segment"] = segment
    return event


def _plain(value: Any) -> Any:
    # Table cells arrive as numpy scalars, pandas timestamps and NaN for blanks.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")
