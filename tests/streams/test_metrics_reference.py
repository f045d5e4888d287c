"""The metrics reference lists every metric the worker exports, with its labels, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import Counter
from prometheus_client.metrics import MetricWrapperBase

from streams import metrics

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "metrics.md"
ROW = re.compile(r"^\| `(streammon_\w+)` \|([^|]*)\|", flags=re.MULTILINE)


def exported() -> dict[str, tuple[str, ...]]:
    """Each metric of ``streams.metrics`` by the name Prometheus shows (counters end in ``_total``), with its labels."""
    found: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name + ("_total" if isinstance(value, Counter) else "")
            found[name] = tuple(value._labelnames)
    return found


def documented() -> dict[str, tuple[str, ...]]:
    rows = ROW.findall(PAGE.read_text(encoding="utf-8"))
    assert rows, "the metrics page has a table of metrics"
    return {name: tuple(re.findall(r"`(\w+)`", labels)) for name, labels in rows}


def test_the_page_names_every_metric_and_no_other() -> None:
    written, real = documented(), exported()
    assert sorted(real.keys() - written.keys()) == [], "metrics missing from docs/reference/metrics.md"
    assert sorted(written.keys() - real.keys()) == [], "docs/reference/metrics.md names metrics the worker does not export"


def test_each_metric_has_its_labels() -> None:
    written, real = documented(), exported()
    assert {name: written[name] for name in real} == real
