"""Model quality without Evidently's report is the quality its report computes.

``classification_quality(..., plots=False)`` computes what Evidently's report
computes with scikit-learn, without the report; on a corpus of windows (binary with
and without scores, scores outside [0, 1], one class only, no positive predicted,
several classes, strings, bools) both give the same metrics to 1e-9, and the
values-only snapshot carries them under the report's metric ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from monitors.evidently.quality_report import classification_quality


def corpus() -> dict[str, tuple[list[Any], list[Any], list[float] | None]]:
    rng = np.random.default_rng(5)
    n = 400
    truth = rng.integers(0, 2, n)
    score = np.clip(truth * 0.3 + rng.random(n) * 0.7, 0, 1)
    predicted = (score > 0.5).astype(int)
    classes = np.array(["cat", "dog", "eel", "fox"])
    many_truth = rng.integers(0, 4, n)
    many_predicted = np.where(rng.random(n) < 0.7, many_truth, rng.integers(0, 4, n))
    return {
        "binary with scores": (predicted.tolist(), truth.tolist(), score.tolist()),
        "binary without scores": (predicted.tolist(), truth.tolist(), None),
        "scores outside [0, 1]": (predicted.tolist(), truth.tolist(), (score * 8 - 4).tolist()),
        "bools": ([bool(v) for v in predicted], [bool(v) for v in truth], score.tolist()),
        "strings, explicit positive": ([["no", "yes"][v] for v in predicted], [["no", "yes"][v] for v in truth], score.tolist()),
        "no positive predicted": ([0] * n, truth.tolist(), score.tolist()),
        "only negatives": ([0] * n, [0] * n, score.tolist()),
        "only positives": ([1] * n, [1] * n, score.tolist()),
        "one pair": ([1], [0], [0.7]),
        "several classes": (classes[many_predicted].tolist(), classes[many_truth].tolist(), None),
        "a class never predicted": (classes[np.minimum(many_predicted, 2)].tolist(), classes[many_truth].tolist(), None),
    }


CORPUS = corpus()


@pytest.mark.parametrize("case", list(CORPUS))
def test_the_values_are_the_reports(case: str) -> None:
    predictions, labels, scores = CORPUS[case]
    pos_label = "yes" if case.startswith("strings") else None
    fast, light = classification_quality(predictions, labels, scores, pos_label=pos_label, plots=False)
    full, report = classification_quality(predictions, labels, scores, pos_label=pos_label)
    assert fast.keys() == full.keys()
    for name, value in full.items():
        assert fast[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name

    assert light is not None and report is not None
    ids = {m["id"]: m["value"] for m in light.dict()["metrics"]}
    assert ids.keys() == {m["id"] for m in report.dict()["metrics"]}
    assert light.dict()["metrics"] and not light.dump_dict()["widgets"]
