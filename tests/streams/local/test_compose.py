"""docker-compose.yml: valid by the Compose specification's schema, and its services wired to each other.

No Docker engine runs here, so the stack is checked by what can be read: the
compose file against the specification's JSON schema (as vendored by
check-jsonschema), the files it mounts, and the configuration of each service
(the worker's settings as the container would load them, Prometheus' target,
Grafana's provisioning, Alertmanager's configuration with its own ``amtool``).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml

from streams.settings import CONFIG_ENV, Settings, load_settings, route_tree

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
AMTOOL = Path("/usr/bin/amtool")

# Each service on its usual port, published on the host.
USUAL_PORTS = {
    "kafka": 9092,
    "worker": 9464,
    "evidently-ui": 8000,
    "prometheus": 9090,
    "grafana": 3000,
    "alertmanager": 9093,
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as check-jsonschema ships it."""
    text = (resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    # Its $schema names draft 07 without the trailing "#" that jsonschema looks up.
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def bind_mounts(service: dict[str, Any]) -> dict[PurePosixPath, Path]:
    """A service's bind mounts (short syntax): container path to the file or folder in the repo."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[PurePosixPath(target)] = (ROOT / source).resolve()
    return mounts


def in_repo(service: dict[str, Any], container_path: str) -> Path:
    """The repo file a container sees at ``container_path``, through the service's bind mounts."""
    wanted = PurePosixPath(container_path)
    for target, source in bind_mounts(service).items():
        if wanted == target or target in wanted.parents:
            return source.joinpath(*wanted.relative_to(target).parts)
    raise AssertionError(f"{container_path} is not mounted from the repo")


def published_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(port).split(":")[0]) for port in service.get("ports", [])}


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_rejects_what_compose_would() -> None:
    """The validation bites: a misspelt key and a port of the wrong shape are errors."""
    misspelt = copy.deepcopy(compose())
    misspelt["services"]["grafana"]["port"] = misspelt["services"]["grafana"].pop("ports")
    assert any("port" in error for error in schema_errors(misspelt))
    wrong_shape = copy.deepcopy(compose())
    wrong_shape["services"]["prometheus"]["ports"] = {"9090": 9090}
    assert schema_errors(wrong_shape)


def test_every_service_is_on_its_usual_port_and_has_an_image() -> None:
    services = compose()["services"]
    assert set(services) == set(USUAL_PORTS)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert USUAL_PORTS[name] in published_ports(service), f"{name} does not publish {USUAL_PORTS[name]}"


def test_mounted_files_exist_and_named_volumes_are_declared() -> None:
    document = compose()
    declared = set(document.get("volumes") or {})
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
            else:
                assert source in declared, f"{name} uses volume {source}, not declared under volumes"


def worker_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the worker container loads: its environment, its mounted configuration file."""
    worker = compose()["services"]["worker"]
    for name in list(os.environ):
        if name.startswith("STREAMMON_"):
            monkeypatch.delenv(name)
    for name, value in worker["environment"].items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv(CONFIG_ENV, str(in_repo(worker, worker["environment"][CONFIG_ENV])))
    return load_settings()


def test_prometheus_scrapes_the_worker_where_it_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    settings = worker_settings(monkeypatch)
    assert settings.worker.metrics_host == "0.0.0.0"  # not loopback: Prometheus is another container
    assert settings.worker.metrics_port in published_ports(services["worker"])
    config = yaml.safe_load(in_repo(services["prometheus"], "/etc/prometheus/prometheus.yml").read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "streammon-worker"]
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert targets == [f"worker:{settings.worker.metrics_port}"]


def test_the_worker_notifies_the_stacks_alertmanager_and_the_kafka_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = worker_settings(monkeypatch)
    receivers = {r.name: r for r in settings.alerting.receivers}
    assert receivers["alertmanager"].alertmanager is not None
    assert receivers["alertmanager"].alertmanager.url.get_secret_value() == f"http://alertmanager:{USUAL_PORTS['alertmanager']}"
    assert receivers["kafka"].kafka is not None
    assert receivers["kafka"].kafka.topic == "streammon.notifications"
    # Every alert, of any kind or severity, reaches both.
    tree = route_tree(settings.alerting.route)
    for labels in ({"model": "churn", "kind": "data_drift", "severity": "warning"}, {"kind": "no_data", "severity": "critical"}):
        assert sorted(route.receiver for route in tree.match(labels)) == ["alertmanager", "kafka"]


def test_grafana_is_provisioned_with_prometheus_and_the_worker_dashboard() -> None:
    services = compose()["services"]
    grafana = services["grafana"]
    datasources = yaml.safe_load(in_repo(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    [prometheus] = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == f"http://prometheus:{USUAL_PORTS['prometheus']}"
    # The dashboard's ${datasource} variable lists the Prometheus data sources: this one only, and the default.
    assert prometheus["isDefault"] is True

    providers = yaml.safe_load(in_repo(grafana, "/etc/grafana/provisioning/dashboards/streammon.yml").read_text())["providers"]
    [provider] = providers
    dashboards = in_repo(grafana, provider["options"]["path"])
    assert dashboards == (ROOT / "grafana").resolve()
    dashboard = json.loads((dashboards / "streammon-worker.json").read_text())
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_alertmanager_accepts_its_configuration() -> None:
    alertmanager = compose()["services"]["alertmanager"]
    config = in_repo(alertmanager, "/etc/alertmanager/alertmanager.yml")
    if not AMTOOL.is_file():
        message = f"no {AMTOOL} (install it with `apt-get install prometheus-alertmanager`, as scripts/bootstrap does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPING: " + message)
    checked = subprocess.run([str(AMTOOL), "check-config", str(config)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
