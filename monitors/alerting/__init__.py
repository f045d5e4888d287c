"""Alert handling, as Prometheus Alertmanager does it, on the observations monitors make.

A monitor's verdict on one condition in one window is an
:class:`~monitors.alerting.alerts.Observation`, which a :mod:`.rule` makes from
the monitor's result. The :mod:`.lifecycle` turns a
condition's observations into alert state changes (pending, firing, resolved),
with ``for`` and hysteresis; an :class:`~monitors.alerting.alerts.Alert` has a
stable :mod:`.fingerprint` of its labels. What happens to a firing alert is
Alertmanager's model, unchanged: :mod:`.matchers` select alerts by label,
:mod:`.routing` picks a receiver and a grouping, :mod:`.dispatch` groups,
times, deduplicates and mutes notifications, :mod:`.silences` and
:mod:`.inhibition` mute them. :mod:`.quoting` bounds what producers sent when
it is quoted to people.

Every other concept imports this one; it imports none of them.
"""

# The modules, not their names: importing a subpackage loads none of them (some load Evidently, which takes seconds).
__all__ = ["alerts", "dispatch", "fingerprint", "inhibition", "lifecycle", "matchers", "quoting", "routing", "rule", "silences"]
