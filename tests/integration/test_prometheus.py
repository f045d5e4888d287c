"""A real Prometheus (Debian's 2.42 binary) scrapes a running worker, with the compose stack's scrape job."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from tests.helpers import RunningWorker, free_port, produce

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
WORKER_JOB = "streammon-worker"
PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
# The compose file scrapes every 15 s; the test every 0.5 s, so it waits for seconds, not minutes.
SCRAPE_INTERVAL = "500ms"


def require(binary: Path) -> None:
    """Fail in CI, skip loudly elsewhere, when Debian's prometheus package is not installed."""
    if binary.is_file():
        return
    message = f"no {binary} (install it with `apt-get install prometheus`, as scripts/bootstrap does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip("SKIPPING INTEGRATION TEST: " + message)


def scrape_config(metrics_port: int) -> dict[str, Any]:
    """The compose stack's Prometheus configuration, its worker job aimed at a worker on loopback."""
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == WORKER_JOB]
    assert len(jobs) == 1, f"{COMPOSE_PROMETHEUS} has no single {WORKER_JOB} job"
    job = jobs[0]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    job["scrape_interval"] = SCRAPE_INTERVAL
    job["scrape_timeout"] = SCRAPE_INTERVAL
    return {"global": config.get("global", {}), "scrape_configs": [job]}


@pytest.fixture()
def prometheus(tmp_path: Path, settings: Settings) -> Iterator[str]:
    """A Prometheus on a free loopback port scraping ``settings``' worker; yields its base URL once ready."""
    require(PROMETHEUS)
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(scrape_config(settings.worker.metrics_port)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = workdir / "prometheus.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not start (exit code {process.poll()}):\n{log_file.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def worker_target(url: str) -> dict[str, Any] | None:
    """The worker job's active target as Prometheus reports it, or None before its first sync."""
    response = httpx.get(f"{url}/api/v1/targets", params={"state": "active"}, timeout=5)
    response.raise_for_status()
    targets = [t for t in response.json()["data"]["activeTargets"] if t["labels"]["job"] == WORKER_JOB]
    return targets[0] if targets else None


def query(url: str, expr: str) -> dict[str, float]:
    """An instant query's result: each series' ``outcome`` label (or "") with its value."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return {s["metric"].get("outcome", ""): float(s["value"][1]) for s in body["data"]["result"]}


def wait_for(what: str, check: Any, worker: RunningWorker, timeout_s: float = 90) -> Any:
    """Poll ``check()`` until it returns something true; fail with its last value and the worker's log."""
    deadline = time.monotonic() + timeout_s
    while True:
        worker.assert_alive()
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}; last seen {got!r}\n{worker.log()[-3000:]}")
        time.sleep(0.2)


def test_prometheus_scrapes_the_events_a_running_worker_counted(settings: Settings, start_worker: Any, prometheus: str) -> None:
    worker = start_worker(settings)
    start = datetime(2026, 12, 1, 12, tzinfo=UTC)
    good = [orjson.dumps(e.prediction) for e in synthetic_stream(240, 10**9, start, id_prefix="prom")]
    bad = [b"not json"] * 6
    produce(settings.kafka.bootstrap_servers, settings.kafka.predictions_topic, good + bad)

    def scraped() -> dict[str, Any] | None:
        target = worker_target(prometheus)
        return target if target is not None and target["health"] == "up" else None

    target = wait_for("the worker target to be up", scraped, worker)
    assert target["labels"]["instance"] == f"127.0.0.1:{settings.worker.metrics_port}"
    assert target["scrapeUrl"].endswith("/metrics")

    produced = len(good) + len(bad)
    expr = f'sum by (outcome) (streammon_events_total{{job="{WORKER_JOB}", topic="{settings.kafka.predictions_topic}"}})'

    def all_counted() -> dict[str, float] | None:
        seen = query(prometheus, expr)
        return seen if sum(seen.values()) >= produced else None

    counted = wait_for(f"Prometheus to hold the {produced} events produced", all_counted, worker)
    assert counted.get("accepted") == len(good)
    assert counted.get("dead_lettered") == len(bad)
    assert sum(counted.values()) == produced


def test_the_compose_prometheus_configuration_passes_promtool() -> None:
    require(PROMTOOL)
    checked = subprocess.run(
        [str(PROMTOOL), "check", "config", str(COMPOSE_PROMETHEUS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
