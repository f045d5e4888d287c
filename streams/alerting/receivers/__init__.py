"""Receivers: where alert notifications are delivered.

The dispatcher groups alerts into notifications, each for one named receiver.
A receiver turns a notification into a message for one destination::

    Receiver                 name, async deliver(notification); raises NotifyError
     ├── KafkaReceiver        Alertmanager webhook JSON to a topic, keyed by group key
     ├── WebhookReceiver      an HTTP POST: Alertmanager webhook JSON, or a Slack message
     └── AlertmanagerReceiver the alerts themselves to a Prometheus Alertmanager (API v2)

:class:`~.deliveries.Deliveries` runs them: one bounded queue and one task per
receiver, so a slow or failing receiver delays nobody else; recoverable
failures (``NotifyError.recoverable``: HTTP 5xx and 429, connection errors,
timeouts) are retried with capped exponential backoff and jitter, the others
fail at once.

URLs and headers of HTTP receivers are secrets (a Slack webhook URL is a
credential): they are held as ``SecretStr``, never logged, and redacted from
httpx's own request log. Logs name the receiver instead. A config file refers
to them as ``${NAME}``, environment variables (see :mod:`streams.settings`).

Modules, one per receiver and one per shared part:

- :mod:`.base`: the :class:`~.base.Notification` a receiver is handed, the
  :class:`~.base.Receiver` protocol, and ``Send``, the worker's producer;
- :mod:`.kafka`, :mod:`.webhook`, :mod:`.alertmanager`: the receivers;
- :mod:`.payloads`: what they send (Alertmanager's webhook JSON, a Slack
  message, Alertmanager's API v2 alerts);
- :mod:`.http_post`: the HTTP POST both HTTP receivers share, and the
  redaction of their secrets from logs;
- :mod:`.deliveries`: queues, retries and backoff;
- :mod:`.build`: receivers made from their settings (:mod:`streams.receiver_settings`,
  a section of :class:`streams.settings.AlertingSettings`, kept beside the settings
  so that the settings import nothing of the alert manager).
"""

__all__ = ["alertmanager", "base", "build", "deliveries", "http_post", "kafka", "payloads", "webhook"]
