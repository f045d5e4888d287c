"""What the Evidently workspace keeps, and for how long.

Deciding a window takes milliseconds, its full Evidently report seconds:
:mod:`.full_reports` picks the windows that get one (alert changes and one per
interval). :mod:`.retention` picks the runs to remove so that the store stays
within its age and size bounds.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["full_reports", "retention"]
