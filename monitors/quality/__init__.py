"""Data quality: is a window still made of the kind of data its reference was made of?

Missing values, values of the wrong type, new categories, values out of the
reference's range, constant columns: the reference is profiled once
(:mod:`.profile`, on the JSON types and categories of :mod:`.values`),
:mod:`.monitor` checks each window against it, and :mod:`.rules` gives the
findings as alert observations.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["monitor", "profile", "rules", "values"]
