"""Local infrastructure for development, the demo and the tests, without Docker.

:mod:`.broker` downloads, configures and runs a single-node Apache Kafka;
:mod:`.alertmanager` a Prometheus Alertmanager; :mod:`.synthetic` a model in
production with drift at a known point.
"""

__all__ = ["alertmanager", "broker", "synthetic"]
