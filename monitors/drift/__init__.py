"""Drift: does a window still look like its reference?

:mod:`.monitor` tests each feature and the prediction with Evidently's methods,
decides the family of tests together (:mod:`.multiple_testing`) and, for
distance methods, against thresholds calibrated on the reference's own
variability (:mod:`.thresholds`). :mod:`.multivariate` asks the same across
features (a PCA's reconstruction error). :mod:`.rules` turn a window's
drift into alert observations.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["monitor", "multiple_testing", "multivariate", "rules", "thresholds"]
