"""The names of the model-quality metrics, apart from the code that computes them (importing it loads Evidently).

>>> "accuracy" in CLASSIFICATION_METRICS, "mae" in REGRESSION_METRICS
(True, True)
"""

from __future__ import annotations

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS"]

#: Metrics of a classifier, higher is better, all in [0, 1].
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: Metrics of a regressor, lower is better (``mape`` is a fraction: 0.25 is 25 %).
REGRESSION_METRICS = ("mae", "rmse", "mape")
