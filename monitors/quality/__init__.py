"""Data quality: is a window still made of the kind of data its reference was made of?

Missing values, values of the wrong type, new categories, values out of the
reference's range, constant columns: :mod:`.monitor` checks each window against
its reference and gives the findings as alert observations.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["monitor"]
