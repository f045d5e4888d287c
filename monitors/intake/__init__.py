"""Intake: what the events themselves say before any window does.

A prediction sent twice counts once (:mod:`.duplicates`); features sent apart
from their prediction are joined to it by key (:mod:`.join`); a model that stops
sending is an alert of its own (:mod:`.freshness`); and a worker that is behind
on one input stops reading it rather than dropping what it holds
(:mod:`.backpressure`).
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["backpressure", "duplicates", "freshness", "join"]
