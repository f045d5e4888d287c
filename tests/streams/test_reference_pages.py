"""The reference pages list what the code has, all of it and nothing else: metrics, topics, commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prometheus_client import Counter
from prometheus_client.metrics import MetricWrapperBase
from test_docs_links import cli, is_group, walk_command

from streams import metrics
from streams.settings import Settings

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference"
METRIC_ROW = re.compile(r"^\| `(streammon_\w+)` \|([^|]*)\|", flags=re.MULTILINE)
TOPIC_ROW = re.compile(r"^\| `kafka\.(\w+_topic)` \| `([^`]+)`", flags=re.MULTILINE)
COMMAND_ROW = re.compile(r"^\| (.+?) \| [^|]+ \|$", flags=re.MULTILINE)


def page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


def exported_metrics() -> dict[str, tuple[str, ...]]:
    """Each metric of ``streams.metrics`` by the name Prometheus shows (counters end in ``_total``), with its labels."""
    found: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            # prometheus_client keeps a metric's name and label names only in these attributes.
            name = value._name + ("_total" if isinstance(value, Counter) else "")
            found[name] = tuple(value._labelnames)
    return found


def documented_metrics() -> dict[str, tuple[str, ...]]:
    rows = METRIC_ROW.findall(page("metrics.md"))
    assert rows, "the metrics page has a table of metrics"
    return {name: tuple(re.findall(r"`(\w+)`", labels)) for name, labels in rows}


def test_the_metrics_page_names_every_metric_and_no_other() -> None:
    written, real = documented_metrics(), exported_metrics()
    assert sorted(real.keys() - written.keys()) == [], "metrics missing from docs/reference/metrics.md"
    assert sorted(written.keys() - real.keys()) == [], "docs/reference/metrics.md names metrics the worker does not export"


def test_each_metric_has_its_labels() -> None:
    written, real = documented_metrics(), exported_metrics()
    assert {name: written[name] for name in real} == real


def test_the_topics_table_names_every_topic_setting_at_its_default() -> None:
    kafka = Settings().kafka
    real = {name: getattr(kafka, name) for name in type(kafka).model_fields if name.endswith("_topic")}
    assert dict(TOPIC_ROW.findall(page("events-and-topics.md"))) == real


def command_names(command: Any, prefix: str = "streammon") -> set[str]:
    """Every command a person can run, as typed (``streammon alerts silence``); a group that runs by itself counts too."""
    if not is_group(command):
        return {prefix}
    names = {prefix} if command.invoke_without_command else set()
    for name, sub in command.commands.items():
        names |= command_names(sub, f"{prefix} {name}")
    return names


def test_the_cli_page_names_every_command() -> None:
    named = set()
    for cell in COMMAND_ROW.findall(page("cli.md")):
        for span in re.findall(r"`streammon ([^`]+)`", cell):
            problems, commands = walk_command(span)
            assert problems == []
            named |= set(commands)
    assert sorted(command_names(cli()) - named) == [], "commands missing from the table of docs/reference/cli.md"
