"""Pure computation for streammon: every rule of monitoring, with no Kafka and no I/O.

Each role has one name. A ``*Monitor`` turns a window (``run``) or a stream of
events (``update``) into a result; a ``*Rule`` turns a result into alert
observations (``evaluate``, the :class:`~monitors.alerting.rule.Rule` protocol),
its thresholds given to its constructor. Results can so be reported without
being alerted on, and every rule is held to one contract (``tests/unit/test_contracts.py``).

One concept per subpackage; imports point down this list, never up:

- :mod:`monitors.alerting`: observations, the rule protocol, alerts and their
  lifecycle, routing, grouping, silences and inhibition (Alertmanager's model);
- :mod:`monitors.evidently`: the one adapter to Evidently, and its tests from arrays;
- :mod:`monitors.windows`: references, tumbling windows, segments;
- :mod:`monitors.intake`: duplicates, the features join, freshness, back-pressure;
- :mod:`monitors.drift`: per-feature and multivariate drift, thresholds, their rules;
- :mod:`monitors.quality`: data quality against the reference;
- :mod:`monitors.labels`: the label join, model quality, label-free estimates;
- :mod:`monitors.online`: error-stream detectors and online challengers;
- :mod:`monitors.workspace`: which windows get full reports, which runs to remove;
- :mod:`monitors.partition`: the monitor of one input partition, which composes
  them all and holds the rules that act between them.

Subpackages list their modules in ``__all__`` instead of importing them: some
load Evidently, which takes seconds, and the worker's processes import only what
they use.
"""

__all__ = ["alerting", "drift", "evidently", "intake", "labels", "online", "partition", "quality", "windows", "workspace"]
