"""streammon's Kafka side: the worker, alert delivery, the Evidently workspace and the command line.

- :mod:`streams.worker`: the stream worker (ingestion, partitions and their
  checkpoints, analyses, online learning);
- :mod:`streams.alerting`: the alert manager, its receivers, silences;
- :mod:`streams.workspace`: the Evidently workspace, its runs and dashboard;
- :mod:`streams.cli`: the ``streammon`` command;
- :mod:`streams.local`: a local Kafka broker, Alertmanager and synthetic stream.

Shared by them: :mod:`.settings` (the one configuration object, read by
:mod:`.config_file`, with the receivers' section in :mod:`.receiver_settings`)
and :mod:`.assembly` (every monitor built from it), :mod:`.events` (the event
contract) and :mod:`.codec`, :mod:`.kafka_clients`, :mod:`.admin`,
:mod:`.compacted`, :mod:`.publish`, :mod:`.metrics`, :mod:`.logs`,
:mod:`.clock` and :mod:`.errors`.
"""

__all__ = [
    "admin",
    "alerting",
    "assembly",
    "cli",
    "clock",
    "codec",
    "compacted",
    "config_file",
    "errors",
    "events",
    "kafka_clients",
    "local",
    "logs",
    "metrics",
    "publish",
    "receiver_settings",
    "settings",
    "workspace",
    "worker",
]
