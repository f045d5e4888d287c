import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streams.cli.calibrate import calibrate
from streams.settings import Settings

SETTINGS = Settings(window={"size": 200, "duration_s": 3600}, reference={"size": 400})


def table(path: Path, rows: int, shift_from: int | None = None, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.exponential(size=rows),
            "c": rng.choice(["x", "y", "z"], rows),
            "prediction": rng.integers(0, 2, rows),
        }
    )
    if shift_from is not None:
        frame.loc[shift_from:, "a"] += 1.0
    frame.to_parquet(path)
    return path


def test_a_stationary_table_gives_few_alarms_and_its_alpha_meets_the_target(tmp_path: Path) -> None:
    result = calibrate(SETTINGS, table(tmp_path / "t.parquet", 400 + 20 * 200), target_rate=0.05)
    assert result.windows == 20 and len(result.alarm_levels) == 20
    assert result.alarms.get("data_drift", 0) <= 2
    assert result.drift_rate(result.proposed_alpha) <= 0.05
    assert result.proposed_alpha <= 0.05


def test_drift_in_the_table_shows_as_alarms_and_a_lower_alpha(tmp_path: Path) -> None:
    result = calibrate(SETTINGS, table(tmp_path / "t.parquet", 400 + 10 * 200, shift_from=400 + 5 * 200), target_rate=0.05)
    assert result.alarms["data_drift"] >= 5
    assert result.drift_rate(0.01) >= 0.5
    assert result.proposed_alpha < min(result.alarm_levels[5:])
    assert result.drift_rate(result.proposed_alpha) <= 0.05


def test_too_small_a_table_is_a_usage_error_naming_the_settings(tmp_path: Path) -> None:
    path = table(tmp_path / "small.parquet", 500)
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "calibrate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "reference.size (2000)" in result.stderr


@pytest.mark.parametrize("levels", [[], [0.5]])
def test_alarm_levels_edge_cases(levels: list[float]) -> None:
    from streams.cli.calibrate import Calibration

    calibration = Calibration(len(levels), 100, {}, tuple(levels), 0.01, "bh", 0.001)
    assert calibration.proposed_alpha == 0.001 and calibration.windows_between_alarms is None
