"""A local single-node Apache Kafka broker, without Docker.

streammon's integration tests, demo and benchmarks run against a real broker. Where
Docker is not available, :class:`~.process.KafkaBroker` provisions one from Maven
Central: Maven copies the runtime jars of ``org.apache.kafka:kafka_2.13`` (plus a
log4j2 binding, or the broker logs nothing) into a cache, and the JVM runs
``kafka.Kafka`` in KRaft combined mode (``process.roles=broker,controller``) on loopback.

- :mod:`.install` fetches the jars with Maven, once per version;
- :mod:`.config` writes ``server.properties`` and formats the storage;
- :mod:`.process` starts the JVM, waits until it answers, reports and stops it.

Layout under ``home``::

    kafka-<version>/libs/     jars, fetched once and shared by every port
    run-<port>/server.properties
    run-<port>/log4j2.yaml
    run-<port>/data/          the log directory, formatted once
    run-<port>/broker.log     the JVM's stdout and stderr, truncated at each start
    run-<port>/broker.pid

Data lives per port, so brokers on different ports coexist. The broker runs detached:
it outlives the Python process that started it until :meth:`~.process.KafkaBroker.stop`.

Usage::

    broker = KafkaBroker(Path.home() / ".cache" / "streammon")
    broker.start()                       # seconds until the broker answered
    broker.status().bootstrap_servers    # "127.0.0.1:9092"
    broker.stop()
"""

__all__ = ["config", "install", "process"]
