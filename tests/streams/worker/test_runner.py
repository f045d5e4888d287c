from pathlib import Path

import pandas as pd
import pytest

from streams.errors import ConfigError
from streams.settings import Settings
from streams.worker.runner import load_reference


def test_reference_file_rows_keep_features_and_prediction_only(tmp_path: Path) -> None:
    path = tmp_path / "reference.parquet"
    pd.DataFrame(
        {
            "model": ["churn", "churn"],
            "prediction_id": ["a", "b"],
            "event_time": ["2026-01-01T00:00:00Z"] * 2,
            "tenure": [3.0, 14.0],
            "plan": ["pro", "free"],
            "prediction": [1, 0],
        }
    ).to_parquet(path)
    rows = load_reference(Settings(reference={"path": str(path)}))
    assert rows == [{"tenure": 3.0, "plan": "pro", "prediction": 1}, {"tenure": 14.0, "plan": "free", "prediction": 0}]


def test_no_reference_file_means_the_stream_reference() -> None:
    assert load_reference(Settings()) is None


def test_an_empty_reference_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("age,plan\n")
    with pytest.raises(ConfigError, match="reference.path: .* holds no rows"):
        load_reference(Settings(reference={"path": str(path)}))
