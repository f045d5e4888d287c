"""Windows: how a model's events are cut into what is analysed.

Each model's (and segment's) events first fill a reference (:mod:`.reference`),
then tumbling windows closed by count or by event time (:mod:`.tumbling`), held
as columns rather than rows (:mod:`.columns`). :mod:`.watch` routes each event
to its reference or window; :mod:`.segments` caps how many values of a segment
key get windows of their own.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["columns", "reference", "segments", "tumbling", "watch"]
