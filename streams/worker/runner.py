"""Start the stream worker: topics first, then the Faust worker until SIGTERM."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import faust
import yaml
from pydantic import SecretStr

from streams import metrics
from streams.admin import ensure_topics, require_copartitioned
from streams.alerting.service import load_silences
from streams.errors import ConfigError
from streams.logs import LogFormat
from streams.publish import read_events
from streams.settings import ENV_PREFIX, Settings, receiver_topics
from streams.worker.app import StreamWorker
from streams.worker.checkpoint import KEYS_SETTING

log = logging.getLogger(__name__)

# Columns of an event-shaped reference file that are not features.
_EVENT_COLUMNS = {"model", "model_version", "prediction_id", "event_time", "score", "label"}


def run_worker(settings: Settings, log_format: LogFormat = "text") -> None:
    """Create missing topics, load the reference file if one is set, and run until stopped."""
    created = ensure_topics(settings.kafka, extra=receiver_topics(settings.alerting))
    if created:
        log.info("created topics %s", ", ".join(created))
    reference = load_reference(settings)
    kafka = settings.kafka
    # Every file the worker writes but the workspace goes here (Faust creates only the last level of its datadir).
    settings.worker.state_dir.mkdir(parents=True, exist_ok=True)
    if not settings.worker.state_keys:
        # Chosen over refusing to start: the demo and a first try run on a private local broker, where
        # no one else writes; a shared cluster gets the risk spelled out in every worker's log.
        log.warning(
            "%s is not set: checkpoints on %s are written unsigned and restored without verification, so whoever "
            "can write to that topic can run code in this worker; set a key (see docs/operations/state-and-scaling.md, Signed state)",
            KEYS_SETTING,
            kafka.state_topic,
        )
    require_copartitioned(kafka)
    # Each input partition's state (and its alerts' dispatch) is restored when the partition is assigned.
    stream_worker = StreamWorker(settings, reference, load_silences(kafka))
    metrics.serve(settings.worker.metrics_host, settings.worker.metrics_port)
    log.info(
        "worker for %s: windows of %d events or %.0f s, reference %s",
        settings.kafka.bootstrap_servers,
        settings.window.size,
        settings.window.duration_s,
        settings.reference.path or f"the first {settings.reference.size} events of each model",
    )
    # Faust logs through the handler configure_logging set up, in its format; its banner is text, so not in JSON.
    worker = faust.Worker(
        stream_worker.app, loglevel="info", redirect_stdouts=False, override_logging=False, quiet=log_format == "json"
    )
    worker.spinner = None  # Faust's start-up spinner writes terminal escapes into the log stream
    # What start-up built (modules, the app, the reference) lives as long as the process: kept out
    # of the collector's full passes, which would walk it each time (a pass took 0.25 s, the event
    # loop stopped meanwhile; 0.16 s without it, bench/load.py's state in process).
    gc.collect()
    gc.freeze()
    worker.execute_from_commandline()


def load_reference(settings: Settings) -> list[dict[str, Any]] | None:
    """The reference rows from ``reference.path``, or None to take the first events of each model."""
    path = settings.reference.path
    if path is None:
        return None
    rows = table_rows(path)
    if not rows:
        raise ConfigError(f"reference.path: {path} holds no rows")
    log.info("reference: %d rows from %s", len(rows), path)
    return rows


def table_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a CSV or Parquet table as the worker sees them: features and ``prediction``."""
    rows = []
    for event in read_events(path, "features"):
        if not isinstance(event, dict):
            raise ConfigError(f"{path} must be a CSV or Parquet table")
        # A ``prediction`` column, if present, is the reference for prediction drift.
        rows.append({k: v for k, v in event["features"].items() if k not in _EVENT_COLUMNS})
    return rows


def spawn_worker(
    settings: Settings, config_file: Path, log_file: Path, log_format: LogFormat = "text"
) -> subprocess.Popen[bytes]:
    """Run ``streammon worker`` with exactly ``settings`` in a child process, logging to ``log_file``.

    ``config_file`` gets the settings, but for the secrets: the file refers to
    them as ``${STREAMMON_SECRET_<n>}``, variables of the child's environment.
    """
    # The given settings must win over any STREAMMON_ variables of this environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    secrets: dict[str, str] = {}
    config_file.write_text(
        yaml.safe_dump(_referenced(settings.model_dump(mode="python", by_alias=True), secrets)), encoding="utf-8"
    )
    env.update(secrets)
    with log_file.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "--log-format", log_format, "--config", str(config_file), "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop a spawned worker with SIGTERM (it drains and commits), killing it after ``timeout_s``."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _referenced(value: Any, secrets: dict[str, str]) -> Any:
    """Settings as plain YAML-able values, each secret replaced by a reference to a variable added to ``secrets``."""
    if isinstance(value, SecretStr):
        name = f"{ENV_PREFIX}SECRET_{len(secrets)}"
        secrets[name] = value.get_secret_value()
        return f"${{{name}}}"
    if isinstance(value, dict):
        return {k: _referenced(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_referenced(v, secrets) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
