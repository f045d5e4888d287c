"""How every Kafka client streammon creates connects: one translation of the Kafka settings.

Three libraries talk to Kafka here: kafka-python (the CLI, admin and
start-up reads), aiokafka (the worker's followers of control topics) and
Faust, over aiokafka (the worker itself). :func:`client_options` gives the
keyword arguments for the first two, which share Kafka's names
(``security_protocol``, ``sasl_mechanism``, ``sasl_plain_username``,
``sasl_plain_password``, ``ssl_context``); :func:`faust_credentials` gives
Faust's ``broker_credentials``. All three get the same
:class:`ssl.SSLContext`, built by :func:`ssl_context`, so a certificate is
checked the same way whichever client connects.

>>> from streams.settings import KafkaSettings
>>> client_options(KafkaSettings())
{'bootstrap_servers': '127.0.0.1:9092', 'security_protocol': 'PLAINTEXT'}
>>> sasl = KafkaSettings(
...     security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256", sasl_username="worker", sasl_password="s3cret"
... )
>>> options = client_options(sasl)
>>> options["sasl_mechanism"], options["sasl_plain_username"]
('SCRAM-SHA-256', 'worker')
>>> faust_credentials(sasl)
<SASLCredentials: username=worker>
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka.helpers import create_ssl_context

from streams.errors import ConfigError
from streams.settings import SASL_PROTOCOLS, SSL_PROTOCOLS, KafkaSettings

__all__ = ["client_options", "faust_credentials", "ssl_context"]


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context of the SSL protocols (None for the others), from the CA file and client certificate, if given.

    Without ``ssl_cafile`` the system's CA certificates verify the brokers.

    Raises
    ------
    ConfigError
        When a certificate or key cannot be loaded (not PEM, the key does
        not match the certificate, or a wrong ``ssl_password``).
    """
    if kafka.security_protocol not in SSL_PROTOCOLS:
        return None
    password = kafka.ssl_password.get_secret_value() if kafka.ssl_password is not None else None
    try:
        context = create_ssl_context(
            cafile=kafka.ssl_cafile, certfile=kafka.ssl_certfile, keyfile=kafka.ssl_keyfile, password=password
        )
    except (ssl.SSLError, OSError) as exc:
        given = {"ssl_cafile": kafka.ssl_cafile, "ssl_certfile": kafka.ssl_certfile, "ssl_keyfile": kafka.ssl_keyfile}
        files = ", ".join(f"kafka.{name} {path}" for name, path in given.items() if path is not None)
        raise ConfigError(f"cannot load the Kafka TLS files ({files}): {exc}") from exc
    context.check_hostname = kafka.ssl_check_hostname
    return context


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments that connect a kafka-python or aiokafka client (consumer, producer, admin) as configured.

    Both libraries use the same names for these; add the client's own
    arguments beside them: ``KafkaConsumer(**client_options(kafka), group_id=None)``.
    """
    options: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap_servers, "security_protocol": kafka.security_protocol}
    if kafka.security_protocol in SASL_PROTOCOLS:
        assert kafka.sasl_password is not None, "KafkaSettings requires a password with SASL"
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    context = ssl_context(kafka)
    if context is not None:
        options["ssl_context"] = context
    return options


def faust_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's ``broker_credentials`` for the configured protocol; None for PLAINTEXT.

    Faust derives the protocol from the credentials: SASL with a TLS context
    is SASL_SSL, without one SASL_PLAINTEXT.
    """
    context = ssl_context(kafka)
    if kafka.security_protocol in SASL_PROTOCOLS:
        assert kafka.sasl_password is not None, "KafkaSettings requires a password with SASL"
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
