"""The stream worker: a Faust app whose tasks and timers drive ingestion, partitions and results.

Faust runs the worker (its tasks, timers, producer and shutdown); the inputs are
read by :class:`~streams.worker.inputs.InputConsumer` in the consumer group itself. What
the worker does is split by concern: :mod:`~streams.worker.ingestion` reads and
applies input batches, :mod:`~streams.worker.partitions` keeps each input
partition's state, :mod:`~streams.worker.results` analyses and publishes, and
:mod:`~streams.worker.learning` runs the online challengers. This module only
wires them and says when each runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import faust

from monitors.alerting.silences import Silence
from streams import metrics
from streams.alerting.service import AlertService
from streams.assembly import partition_rules
from streams.clock import utc_now
from streams.kafka_clients import faust_credentials
from streams.settings import Settings
from streams.worker.ingestion import Due, Ingestion
from streams.worker.learning import Learning
from streams.worker.output import Output
from streams.worker.partitions import Partitions
from streams.worker.results import Results
from streams.worker.state import WorkerState

log = logging.getLogger(__name__)

LOOP_TICK_S = 0.1
LAG_INTERVAL_S = 2.0


class StreamWorker:
    """The Faust app, and the parts of the worker its tasks and timers run."""

    def __init__(
        self,
        settings: Settings,
        reference: list[dict[str, Any]] | None = None,
        silences: Iterable[Silence] = (),
    ) -> None:
        self.settings = settings
        self.app = self._faust_app()
        self.output = Output(settings, self.app)
        self.alerting = AlertService(settings, self.output.send, silences)
        states: dict[int, WorkerState] = {}
        self.learning = Learning(settings, states, self.output)
        self.partitions = Partitions(
            settings, states, partition_rules(settings), reference, self.alerting, self.output, self.learning
        )
        self.results = Results(settings, self.partitions, self.alerting, self.output)
        self.ingestion = Ingestion(
            settings, self.partitions, self.results, self.learning, self.alerting, self.output, self._assigned, self._revoked
        )
        self._schedule()

    def _faust_app(self) -> faust.App:
        kafka = self.settings.kafka
        # Faust runs the worker (timers, tasks, the producer, shutdown); the inputs are read
        # by InputConsumer in the consumer group itself, so Faust's own (idle) consumer
        # must not join that group.
        app = faust.App(
            f"{kafka.group_id}.runtime",
            broker=f"kafka://{kafka.bootstrap_servers}",
            broker_credentials=faust_credentials(kafka),
            value_serializer="raw",
            key_serializer="raw",
            store="memory://",
            # Faust makes its data directory even for in-memory tables: under state_dir, not the working
            # directory (braces escaped: Faust formats the path).
            datadir=str(self.settings.worker.state_dir / f"{kafka.group_id}.runtime-data").replace("{", "{{").replace("}", "}}"),
            web_enabled=False,
            topic_partitions=kafka.partitions,
            producer_acks=-1,
            # Room for a dead letter as large as worker.max_message_bytes allows (Faust's default is 1,000,000).
            producer_max_request_size=max(1_000_000, self.settings.worker.max_message_bytes),
            # Faust's idle consumer is still a member of its own group, and Faust starts the worker's tasks
            # only once it has joined: with Faust's default of 60 s, a worker replacing a killed one waited
            # up to a minute for the dead member to time out before it read anything. The input consumer's
            # session (aiokafka's default, 10 s) is the one that matters; this one need not be longer.
            broker_session_timeout=10.0,
        )
        return app

    def _schedule(self) -> None:
        app, settings = self.app, self.settings
        app.task(self.ingestion.run)
        app.timer(interval=1.0)(self._advance_time)
        app.timer(interval=1.0)(self._tick_alerts)
        app.timer(interval=settings.labels.update_interval)(self._evaluate_performance)
        app.timer(interval=settings.worker.checkpoint_interval)(self.partitions.checkpoint_all)
        if settings.quality.no_data_after:
            app.timer(interval=settings.quality.freshness_check_interval)(self._check_freshness)
        app.task(self._run_alerting)
        app.task(self.partitions.follow_control)
        app.task(self._watch_loop)
        app.timer(interval=LAG_INTERVAL_S)(self._measure_consumer_lag)
        app.on_before_shutdown.connect(self._on_before_shutdown)  # type: ignore[arg-type]

    async def _assigned(self, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Restore the partitions given to this worker, queue the results they still owe; where to start reading each."""
        for state, key, job in await self.partitions.assigned(partitions):
            await self.results.submit(state, key, job)
        states = self.partitions.states
        started = {p for _, p in partitions} & set(states)
        return {tp: offset for p in started for tp, offset in states[p].offsets.items() if tp in partitions}

    async def _revoked(self, partitions: set[tuple[str, int]]) -> None:
        """Hand partitions over once their analyses had their time: the results belong in the checkpoint the next owner reads."""
        if {p for _, p in partitions} & set(self.partitions.states):
            await self.results.wait()
        await self.partitions.revoked(partitions)

    async def _on_before_shutdown(self, app: faust.App, **_: Any) -> None:
        await self.results.stop()
        await self.partitions.checkpoint(set(self.partitions.states))
        if self.partitions.inputs is not None:
            await self.partitions.inputs.stop()
        await self.alerting.stop()
        self.results.shutdown()

    async def _run_alerting(self) -> None:
        await self.alerting.start()
        await self.alerting.follow_silences()

    async def _watch_loop(self) -> None:
        """Measure how late the event loop runs a tick: the time work on it did not yield."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LOOP_TICK_S
            await asyncio.sleep(LOOP_TICK_S)
            metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))

    async def _measure_consumer_lag(self) -> None:
        self.results.measure_backlog()
        inputs = self.partitions.inputs
        if inputs is None:
            return
        for (topic, partition), behind in (await inputs.lag(self.partitions.offsets())).items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(behind)

    async def _tick_alerts(self) -> None:
        await self.alerting.tick()
        metrics.ALERTS_FIRING.set(sum(state.review_trust() for state in list(self.partitions.states.values())))

    async def _check_freshness(self) -> None:
        async with self.partitions.lock:
            for p, state in self.partitions.states.items():
                # A worker that is behind has the data still to read: silence is judged only once caught up.
                if (
                    state.freshness is not None
                    and self.partitions.idle_s(p, state, self.settings.kafka.predictions_topic) is not None
                ):
                    observations = state.silences(utc_now())
                    if observations:
                        await self.alerting.observe(p, state.lifecycle, observations, window=None, snapshot=None)

    async def _advance_time(self) -> None:
        """Close the last windows, and expire the labels, of partitions read to their end and idle since."""
        kafka = self.settings.kafka
        due: Due = []
        async with self.partitions.lock:
            for p, state in self.partitions.states.items():
                idle = self.partitions.idle_s(p, state, kafka.predictions_topic, kafka.features_topic, kafka.labels_topic)
                if idle is None or idle <= 0:
                    continue
                due += await self.ingestion.carry_out(p, state, state.idle(idle))
        for state, key, job in due:
            await self.results.submit(state, key, job)

    async def _evaluate_performance(self) -> None:
        async with self.partitions.lock:
            due = [
                (state, key, job)
                for state in self.partitions.states.values()
                for key, job in state.register([], state.performance_due())
            ]
        for state, key, job in due:
            await self.results.submit(state, key, job)
