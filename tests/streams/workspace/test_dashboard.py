"""The Grafana dashboard in the repo queries only metrics the worker exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401  (registers the worker's metrics)

DASHBOARD = Path(__file__).resolve().parents[3] / "grafana" / "streammon-worker.json"
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def exported_names() -> set[str]:
    names = set()
    for metric in REGISTRY.collect():
        if metric.name.startswith("streammon_"):
            names |= {metric.name + suffix for suffix in _SUFFIXES.get(metric.type, ("",))}
    return names


def test_every_panel_queries_metrics_the_worker_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"streammon_[a-z_]+", target["expr"])
    }
    assert queried, "the dashboard queries no streammon metric"
    assert queried <= exported_names(), sorted(queried - exported_names())
    # Every metric family the worker exports has a panel.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}
    exported = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exported_names()}
    assert exported - families == set(), sorted(exported - families)
