"""Alert handling on Kafka: the worker's alert manager, its receivers, and the silences topic.

:mod:`.service` runs the lifecycle, grouping, silences, inhibition and delivery
of :mod:`monitors.alerting` on the worker's observations and keeps its state on
compacted topics; :mod:`.receivers` delivers notifications (Kafka, webhook
or Slack, Alertmanager: a module each) with retries; :mod:`.silences` creates and expires
silences on their control topic; :mod:`.view` reads the alerts topic and shows
an alert to a person.
"""

__all__ = ["receivers", "service", "silences", "view"]
