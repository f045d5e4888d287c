"""Replay a file of events into Kafka, with a progress bar."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from streams.codec import InputKind
from streams.publish import Publisher, count_events, read_events
from streams.settings import KafkaSettings


def replay_file(
    kafka: KafkaSettings,
    path: Path,
    kind: InputKind,
    defaults: Mapping[str, Any],
    *,
    validate: bool = True,
) -> int:
    """Publish every event of ``path`` to the topic of ``kind``; return how many were sent."""
    total = count_events(path)
    sent = 0
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Publisher(kafka, validate=validate) as publisher, Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"{kind} ← {path.name}", total=total)
        for event in read_events(path, kind, defaults):
            publisher.send(kind, event)
            sent += 1
            if sent % 500 == 0:
                progress.update(task, completed=sent)
        publisher.flush()
        progress.update(task, completed=sent)
    return sent
