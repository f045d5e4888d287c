"""Kafka SASL and SSL settings, secrets from the environment only, and the options every Kafka client gets."""

from __future__ import annotations

import datetime
import inspect
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.errors import ConfigError
from streams.kafka_clients import client_options, faust_credentials, ssl_context
from streams.settings import KafkaSettings, Settings, load_settings
from streams.worker import runner

PASSWORD = "pw-9f3c1e77"
URL = "https://hooks.slack.example.com/services/T0/B0/tok-5a1d9e"
SASL = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "worker"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STREAMMON_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway self-signed certificate: its PEM, its key in clear and its key encrypted with PASSWORD."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "streammon-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = {"cert": directory / "cert.pem", "key": directory / "key.pem", "encrypted_key": directory / "key-encrypted.pem"}
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pkcs8, pem = serialization.PrivateFormat.PKCS8, serialization.Encoding.PEM
    files["key"].write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    files["encrypted_key"].write_bytes(key.private_bytes(pem, pkcs8, serialization.BestAvailableEncryption(PASSWORD.encode())))
    return files


def load(tmp_path: Path, config: dict) -> Settings:
    path = tmp_path / "streammon.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_settings(path)


def config_error(tmp_path: Path, config: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config)
    return str(caught.value)


# --- settings -------------------------------------------------------------------------------


def test_plaintext_is_the_default() -> None:
    kafka = load_settings().kafka
    assert kafka.security_protocol == "PLAINTEXT" and kafka.sasl_password is None and kafka.ssl_cafile is None


@pytest.mark.parametrize(
    ("kafka", "named", "says"),
    [
        ({"security_protocol": "TLS"}, "kafka.security_protocol (STREAMMON_KAFKA__SECURITY_PROTOCOL)", "SASL_SSL"),
        ({**SASL, "sasl_mechanism": None}, "kafka.sasl_mechanism (STREAMMON_KAFKA__SASL_MECHANISM)", "needs it"),
        ({**SASL, "sasl_mechanism": "GSSAPI"}, "kafka.sasl_mechanism (STREAMMON_KAFKA__SASL_MECHANISM)", "SCRAM-SHA-256"),
        ({**SASL, "sasl_username": None}, "kafka.sasl_username (STREAMMON_KAFKA__SASL_USERNAME)", "needs it"),
        (SASL, "kafka.sasl_password (STREAMMON_KAFKA__SASL_PASSWORD)", "security_protocol SASL_PLAINTEXT needs it"),
        ({"sasl_username": "worker"}, "kafka.sasl_username (STREAMMON_KAFKA__SASL_USERNAME)", "only used with SASL"),
        ({"ssl_cafile": "{cert}"}, "kafka.ssl_cafile (STREAMMON_KAFKA__SSL_CAFILE)", "only used with SSL or SASL_SSL"),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"},
            "kafka.ssl_cafile (STREAMMON_KAFKA__SSL_CAFILE)",
            "file not found: /nonexistent/ca.pem",
        ),
        (
            {"security_protocol": "SSL", "ssl_certfile": "/nonexistent/cert.pem"},
            "kafka.ssl_certfile (STREAMMON_KAFKA__SSL_CERTFILE)",
            "file not found",
        ),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "{key}"},
            "kafka.ssl_keyfile (STREAMMON_KAFKA__SSL_KEYFILE)",
            "needs ssl_certfile",
        ),
    ],
)
def test_bad_security_settings_fail_at_load_naming_the_setting(
    tmp_path: Path, tls_files: dict[str, Path], kafka: dict, named: str, says: str
) -> None:
    kafka = {k: v.format(**tls_files) if isinstance(v, str) else v for k, v in kafka.items()}
    message = config_error(tmp_path, {"kafka": kafka})
    line = next((line for line in message.splitlines() if named in line), None)
    assert line is not None and says in line, message


def test_ssl_password_needs_a_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_KAFKA__SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("STREAMMON_KAFKA__SSL_PASSWORD", PASSWORD)
    with pytest.raises(
        ConfigError, match=r"kafka.ssl_password \(STREAMMON_KAFKA__SSL_PASSWORD\): .*needs ssl_certfile"
    ) as caught:
        load_settings()
    assert PASSWORD not in str(caught.value)


# --- secrets: the environment only ---------------------------------------------------------


def test_a_password_in_the_file_is_rejected_pointing_to_the_environment(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"kafka": {**SASL, "sasl_password": PASSWORD}})
    assert "kafka.sasl_password (STREAMMON_KAFKA__SASL_PASSWORD): a secret cannot be written in the config file" in message
    assert "set STREAMMON_KAFKA__SASL_PASSWORD, or write ${NAME}" in message
    assert PASSWORD not in message


def test_a_password_from_the_environment_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_KAFKA__SASL_PASSWORD", PASSWORD)
    kafka = load(tmp_path, {"kafka": SASL}).kafka
    assert kafka.sasl_password is not None and kafka.sasl_password.get_secret_value() == PASSWORD
    assert kafka.sasl_mechanism == "SCRAM-SHA-512" and kafka.sasl_username == "worker"


def test_a_reference_in_the_file_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", PASSWORD)
    monkeypatch.setenv("CHAT_URL", URL)
    monkeypatch.setenv("CHAT_TOKEN", "Bearer t0k")
    settings = load(
        tmp_path,
        {
            "kafka": {**SASL, "sasl_password": "${KAFKA_PASSWORD}"},
            "alerting": {
                "receivers": [
                    {"name": "kafka", "kafka": {"topic": "n"}},
                    {"name": "chat", "webhook": {"url": "${CHAT_URL}", "headers": {"Authorization": "${CHAT_TOKEN}"}}},
                ]
            },
        },
    )
    assert settings.kafka.sasl_password is not None and settings.kafka.sasl_password.get_secret_value() == PASSWORD
    hook = settings.alerting.receivers[1].webhook
    assert hook is not None and hook.url.get_secret_value() == URL
    assert hook.headers["Authorization"].get_secret_value() == "Bearer t0k"


def test_a_reference_to_an_unset_variable_names_it(tmp_path: Path) -> None:
    message = config_error(tmp_path, {"kafka": {**SASL, "sasl_password": "${NO_SUCH_VARIABLE_7}"}})
    assert (
        "kafka.sasl_password (STREAMMON_KAFKA__SASL_PASSWORD): refers to the environment variable NO_SUCH_VARIABLE_7, which is not set"
        in message
    )


def test_webhook_urls_and_headers_in_the_file_are_rejected(tmp_path: Path) -> None:
    receivers = [
        {"name": "kafka", "kafka": {"topic": "n"}},
        {"name": "chat", "webhook": {"url": URL, "headers": {"Authorization": "Bearer t0k"}}},
        {"name": "am", "alertmanager": {"url": "http://am.internal:9093"}},
    ]
    message = config_error(tmp_path, {"alerting": {"receivers": receivers}})
    for setting in (
        "alerting.receivers.1.webhook.url",
        "alerting.receivers.1.webhook.headers.Authorization",
        "alerting.receivers.2.alertmanager.url",
    ):
        assert f"{setting}: a secret cannot be written in the config file; write ${{NAME}}" in message
    assert URL not in message and "t0k" not in message and "am.internal" not in message


def test_secrets_given_in_code_are_not_checked_against_a_file() -> None:
    # Tests and the demo build settings in code; only a file is a place a secret must not be.
    settings = Settings(
        alerting={"receivers": [{"name": "kafka", "kafka": {"topic": "n"}}, {"name": "w", "webhook": {"url": URL}}]}
    )
    assert settings.alerting.receivers[1].webhook is not None


# --- never shown ---------------------------------------------------------------------------


def test_secrets_never_show_in_repr_str_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("STREAMMON_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("STREAMMON_KAFKA__SASL_USERNAME", "worker")
    monkeypatch.setenv("STREAMMON_KAFKA__SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv(
        "STREAMMON_ALERTING__RECEIVERS",
        f'[{{"name": "kafka", "kafka": {{"topic": "n"}}}}, {{"name": "w", "webhook": {{"url": "{URL}"}}}}]',
    )
    settings = load_settings()
    assert settings.kafka.sasl_password is not None
    for shown in (repr(settings), str(settings), repr(settings.kafka), settings.model_dump_json(), str(settings.model_dump())):
        assert PASSWORD not in shown and URL not in shown
    assert PASSWORD not in repr(faust_credentials(settings.kafka))


def test_a_rejected_secret_is_not_quoted_in_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_KAFKA__SASL_PASSWORD", PASSWORD)  # given without a SASL protocol
    monkeypatch.setenv("CHAT_URL", "ftp://" + URL)
    receivers = [{"name": "kafka", "kafka": {"topic": "n"}}, {"name": "w", "webhook": {"url": "${CHAT_URL}"}}]
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"alerting": {"receivers": receivers}})
    message = str(caught.value)
    assert "kafka.sasl_password (STREAMMON_KAFKA__SASL_PASSWORD): Value error, only used with SASL" in message
    assert "url must start with http" in message
    # Nor in the chained validation error a --debug traceback prints.
    for shown in (message, str(caught.value.__cause__)):
        assert PASSWORD not in shown and URL not in shown
    with pytest.raises(ValueError) as direct:
        KafkaSettings(sasl_password=PASSWORD)
    assert PASSWORD not in str(direct.value)


def test_broken_yaml_is_reported_without_quoting_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(f"kafka:\n  sasl_password: [{PASSWORD}\n")
    with pytest.raises(ConfigError, match="not valid YAML: .* at line") as caught:
        load_settings(path)
    assert PASSWORD not in str(caught.value) and caught.value.__cause__ is None


def test_a_spawned_worker_gets_its_secrets_through_its_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: dict = {}

    def popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        spawned.update(args=args, **kwargs)
        return None  # type: ignore[return-value]

    monkeypatch.setattr(runner.subprocess, "Popen", popen)
    monkeypatch.setenv("STREAMMON_WINDOW__SIZE", "77")  # the parent's own settings must not reach the child
    settings = Settings(
        kafka={**SASL, "sasl_password": PASSWORD},
        alerting={
            "receivers": [
                {"name": "kafka", "kafka": {"topic": "n"}},
                {"name": "w", "webhook": {"url": URL, "headers": {"A": "t0k"}}},
            ]
        },
    )
    config_file = tmp_path / "worker.yaml"
    runner.spawn_worker(settings, config_file, tmp_path / "worker.log")
    written = config_file.read_text()
    assert PASSWORD not in written and URL not in written and "t0k" not in written
    env = spawned["env"]
    assert "STREAMMON_WINDOW__SIZE" not in env
    for name, value in env.items():
        if name.startswith("STREAMMON_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("STREAMMON_WINDOW__SIZE")
    assert load_settings(config_file) == settings


# --- client options ------------------------------------------------------------------------


def _accepted(options: dict) -> None:
    """Every option is an argument of every client class of both libraries."""
    for client in (KafkaConsumer, KafkaProducer, KafkaAdminClient):
        assert set(options) <= set(client.DEFAULT_CONFIG), client
    for client in (AIOKafkaConsumer, AIOKafkaProducer):
        assert set(options) <= set(inspect.signature(client).parameters), client


def test_plaintext_options() -> None:
    options = client_options(KafkaSettings(bootstrap_servers="b1:9092,b2:9092"))
    assert options == {"bootstrap_servers": "b1:9092,b2:9092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials(KafkaSettings()) is None
    _accepted(options)


def test_sasl_plaintext_options() -> None:
    kafka = KafkaSettings(**SASL, sasl_password=PASSWORD)
    options = client_options(kafka)
    assert options == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": PASSWORD,
    }
    _accepted(options)
    faust_auth = credentials_to_aiokafka_auth(faust_credentials(kafka))
    assert faust_auth == {**{k: v for k, v in options.items() if k != "bootstrap_servers"}, "ssl_context": None}


def test_ssl_options_carry_a_context_with_the_files(tls_files: dict[str, Path]) -> None:
    kafka = KafkaSettings(
        security_protocol="SSL", ssl_cafile=tls_files["cert"], ssl_certfile=tls_files["cert"], ssl_keyfile=tls_files["key"]
    )
    options = client_options(kafka)
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "streammon-test"),),)]
    _accepted(options)
    credentials = faust_credentials(kafka)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SSL" and isinstance(auth["ssl_context"], ssl.SSLContext)


def test_sasl_ssl_options_and_hostname_check_off(tls_files: dict[str, Path]) -> None:
    kafka = KafkaSettings(
        **{**SASL, "security_protocol": "SASL_SSL"},
        sasl_password=PASSWORD,
        ssl_cafile=tls_files["cert"],
        ssl_check_hostname=False,
    )
    options = client_options(kafka)
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_plain_password"] == PASSWORD
    assert options["ssl_context"].check_hostname is False
    auth = credentials_to_aiokafka_auth(faust_credentials(kafka))
    assert auth["security_protocol"] == "SASL_SSL" and auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_password"] == PASSWORD and auth["ssl_context"].check_hostname is False


def test_sasl_ssl_without_a_ca_file_verifies_with_the_system_cas() -> None:
    context = ssl_context(KafkaSettings(**{**SASL, "security_protocol": "SASL_SSL"}, sasl_password=PASSWORD))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED


def test_an_encrypted_key_loads_with_its_password_and_fails_without_showing_it(tls_files: dict[str, Path]) -> None:
    files = {"ssl_certfile": tls_files["cert"], "ssl_keyfile": tls_files["encrypted_key"]}
    assert ssl_context(KafkaSettings(security_protocol="SSL", ssl_password=PASSWORD, **files)) is not None
    wrong = "not-" + PASSWORD
    with pytest.raises(ConfigError, match="cannot load the Kafka TLS files .*kafka.ssl_keyfile") as caught:
        ssl_context(KafkaSettings(security_protocol="SSL", ssl_password=wrong, **files))
    assert wrong not in str(caught.value)


def test_a_file_that_is_not_a_certificate_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=f"kafka.ssl_cafile {bogus}"):
        client_options(KafkaSettings(security_protocol="SSL", ssl_cafile=bogus))


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_the_cli_reports_a_secret_setting_without_its_value(tmp_path: Path, debug: list[str]) -> None:
    config = tmp_path / "streammon.yaml"
    config.write_text(yaml.safe_dump({"alerting": {"receivers": [{"name": "w", "webhook": {"url": URL}}]}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMMON_")}
    env["STREAMMON_KAFKA__SASL_PASSWORD"] = PASSWORD  # and one from the environment, rejected without SASL
    for args in (["--config", str(config)], []):
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", *debug, *args, "broker", "status"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 2, result.stderr
        assert "alerting.receivers.0.webhook.url" in result.stderr or "kafka.sasl_password" in result.stderr
        assert PASSWORD not in result.stdout + result.stderr and URL not in result.stdout + result.stderr
