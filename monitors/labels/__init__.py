"""Labels: model quality once ground truth arrives, and estimates before it does.

:mod:`.join` meets predictions with their late, out-of-order labels in event
time; :mod:`.performance` computes each window's model quality as its labels
land; :mod:`.estimates` estimates a classifier's
accuracy from its scores before any label (confidence-based estimation) and
reconciles the estimate with the realized value. :mod:`.metric_names` names the
metrics without loading the code that computes them. :mod:`.rules` judge the
measured and the estimated quality as alert observations.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["estimates", "join", "metric_names", "performance", "rules"]
