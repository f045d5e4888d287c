from pathlib import Path

import pandas as pd
import pytest

from streams.publish import count_events, read_events


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prediction_id": [1, 2],
            "event_time": ["2026-11-24T12:00:00Z", "2026-11-24T12:00:01Z"],
            "prediction": [0, 1],
            "score": [0.2, float("nan")],
            "age": [31.0, None],
            "plan": ["pro", "free"],
            "segment.country": ["FR", "DE"],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_flat_rows_become_events_with_features_and_segments(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"predictions{suffix}"
    frame = table()
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    events = list(read_events(path, "predictions", {"model": "churn", "model_version": "7"}))
    assert count_events(path) == 2
    first, second = events
    assert first == {
        "model": "churn",
        "model_version": "7",
        "prediction_id": "1",
        "event_time": "2026-11-24T12:00:00Z",
        "prediction": 0,
        "score": 0.2,
        "features": {"age": 31.0, "plan": "pro"},
        "segment": {"country": "FR"},
    }
    assert "score" not in second and second["features"]["age"] is None


def test_jsonl_lines_are_sent_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b'{"prediction_id": "a", "event_time": 1, "label": 1}\n\n{broken\n')
    assert list(read_events(path, "labels")) == [b'{"prediction_id": "a", "event_time": 1, "label": 1}', b"{broken"]
    assert count_events(path) == 2


def test_other_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.xlsx"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="expected a .csv, .jsonl or .parquet"):
        list(read_events(path, "predictions"))
