from pathlib import Path

import pytest

from streams.errors import ConfigError
from streams.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("STREAMMON_"):
            monkeypatch.delenv(name)


def test_defaults_work_for_the_local_broker() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.window.size == 1000 and settings.reference.path is None


def test_yaml_file_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "streammon.yaml"
    config.write_text("window:\n  size: 5000\n  duration_s: 60\nkafka:\n  alerts_topic: team.alerts\n")
    monkeypatch.setenv("STREAMMON_WINDOW__SIZE", "250")
    settings = load_settings(config)
    assert settings.window.size == 250
    assert settings.window.duration_s == 60
    assert settings.kafka.alerts_topic == "team.alerts"


def test_config_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("drift:\n  alpha: 0.05\n")
    monkeypatch.setenv("STREAMMON_CONFIG", str(config))
    assert load_settings().drift.alpha == 0.05


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("window:\n  size: 0\n", "window.size (STREAMMON_WINDOW__SIZE)"),
        ("drift:\n  alpha: 2\n", "drift.alpha (STREAMMON_DRIFT__ALPHA)"),
        ("reference:\n  path: /nonexistent/ref.csv\n", "reference.path (STREAMMON_REFERENCE__PATH)"),
        ("windw:\n  size: 10\n", "windw (STREAMMON_WINDW)"),
        ("broker:\n  port: 9000\n  controller_port: 9000\n", "broker.port and broker.controller_port"),
        ("labels:\n  ttl: soon\n", "labels.ttl (STREAMMON_LABELS__TTL)"),
        (
            "performance:\n  minimum: {acuracy: 0.8}\n",
            "performance (STREAMMON_PERFORMANCE): Value error, minimum: unknown metrics",
        ),
        ("performance:\n  detector: adwinn\n", "performance (STREAMMON_PERFORMANCE): Value error, unknown detector 'adwinn'"),
        ("performance:\n  detector: adwin\n  detector_params: {deltaa: 1}\n", "bad parameters for detector"),
        ("online:\n  model: neural_net\n", "online (STREAMMON_ONLINE): Value error"),
    ],
)
def test_invalid_settings_fail_naming_the_setting(tmp_path: Path, yaml_text: str, named: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMMON_WINDOW__SIZE", "lots")
    with pytest.raises(ConfigError, match="STREAMMON_WINDOW__SIZE"):
        load_settings()


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file .*No such file"):
        load_settings(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("window: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(broken)


def test_the_example_configuration_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its receivers' URLs are secrets, read from the environment.
    monkeypatch.setenv("FRAUD_CHAT_SLACK_URL", "https://hooks.slack.example.com/services/T000/B000/XXXX")
    monkeypatch.setenv("ALERTMANAGER_URL", "http://alertmanager.internal:9093")
    settings = load_settings(Path(__file__).parents[2] / "examples" / "streammon.yaml")
    alerting = settings.alerting
    assert alerting.conditions.for_windows == 2 and alerting.route.group_interval == 300
    assert [r.name for r in alerting.receivers] == ["team-kafka", "fraud-chat", "pager"]
    assert alerting.receivers[2].alertmanager is not None
    assert alerting.receivers[2].alertmanager.url.get_secret_value() == "http://alertmanager.internal:9093"
    assert alerting.route.routes[0].continue_ is True


@pytest.mark.parametrize(
    ("alerting", "named"),
    [
        ({"route": {"receiver": "nobody", "group_wait": 1, "group_interval": 1, "repeat_interval": 1}}, "not defined"),
        ({"route": {"receiver": "kafka", "group_wait": 1, "group_interval": 0, "repeat_interval": 1}}, "group_interval"),
        ({"route": {"receiver": "kafka", "group_wait": "soon", "group_interval": 1, "repeat_interval": 1}}, "not a duration"),
        (
            {"route": {"receiver": "kafka", "group_wait": 1, "group_interval": 1, "repeat_interval": 1, "matchers": ["model~x"]}},
            "not a matcher",
        ),
        ({"inhibit_rules": [{"source_matchers": [], "target_matchers": ['kind="x"']}]}, "source_matchers"),
        ({"receivers": [{"name": "a"}]}, "set exactly one of"),
    ],
)
def test_alerting_configuration_errors_fail_at_load(tmp_path: Path, alerting: dict, named: str) -> None:
    import yaml

    config = tmp_path / "alerting.yaml"
    config.write_text(yaml.safe_dump({"alerting": alerting}))
    with pytest.raises(ConfigError, match=named):
        load_settings(config)


def test_a_path_from_the_home_folder_is_the_users_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "streammon.yaml"
    config.write_text("broker: {home: ~/kafka}\nworker: {state_dir: ~/state}\nworkspace: {path: ~/workspace}\n")
    settings = load_settings(config)
    assert (settings.broker.home, settings.worker.state_dir, settings.workspace.path) == (
        tmp_path / "kafka",
        tmp_path / "state",
        tmp_path / "workspace",
    )
