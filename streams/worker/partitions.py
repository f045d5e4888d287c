"""The input partitions a worker owns: their states restored when assigned, checkpointed then committed, handed over when revoked.

Input offsets are committed only once a checkpoint reflects them (see
:mod:`streams.worker.checkpoint`); messages below the restored state's offsets are
skipped, so each has exactly one effect on the state.

Every change to a partition's state holds :attr:`Partitions.lock` (changes span
awaits: a batch, a result and its sends), so a checkpoint that forks its
snapshot under the lock sees a state between changes, not within one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, cast

import orjson
from aiokafka.errors import KafkaError

from monitors.labels.performance import PerformanceJob
from monitors.partition import PartitionRules
from monitors.windows.watch import WindowJob
from streams import metrics
from streams.alerting.service import AlertService, load_alert_states
from streams.clock import utc_now
from streams.codec import encode
from streams.compacted import follow_topic
from streams.events import ChallengerOut, ModelStatus
from streams.settings import Settings
from streams.worker.checkpoint import StateKeys, pack, partition_checkpoint, read_checkpoints, snapshot
from streams.worker.inputs import InputConsumer
from streams.worker.learning import Learning
from streams.worker.output import Output
from streams.worker.state import WorkerState, new_state

log = logging.getLogger(__name__)


class Partitions:
    """The state of each input partition this worker owns, and what keeps it: restores, checkpoints, hand-overs."""

    def __init__(
        self,
        settings: Settings,
        states: dict[int, WorkerState],
        rules: PartitionRules,
        reference: list[dict[str, Any]] | None,
        alerting: AlertService,
        output: Output,
        learning: Learning,
    ) -> None:
        self.settings = settings
        self.states = states  # by input partition, restored from its checkpoint when assigned
        self.rules = rules
        self.reference = reference
        self.alerting = alerting
        self.output = output
        self.learning = learning
        self.generations: dict[int, int] = {}
        # The latest command of each key on the control topic: applied to every partition, also to those assigned later.
        self.commands: dict[str, Mapping[str, Any]] = {}
        self.lock = asyncio.Lock()
        # Per partition: since when (monotonic) it has had nothing new to process.
        self.idle_since: dict[int, float] = {}
        self.inputs: InputConsumer | None = None  # created in the worker's event loop

    def offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read of every input topic partition, as the states reflect them."""
        return {tp: offset for state in self.states.values() for tp, offset in state.offsets.items()}

    def partition_of(self, state: WorkerState) -> int | None:
        """The input partition whose state this is; None once it was handed over (an analysis that outlived it)."""
        return next((p for p, owned in self.states.items() if owned is state), None)

    async def assigned(self, partitions: set[tuple[str, int]]) -> list[tuple[WorkerState, str, WindowJob | PerformanceJob]]:
        """Restore the state of the partitions this worker was given; return the results they still owe.

        Results computed before a crash or a hand-over but not published are
        computed and published again (their keys are stable, so a duplicate
        downstream is recognisable).
        """
        gained = sorted({p for _, p in partitions} - set(self.states))
        kafka = self.settings.kafka
        names = {p: partition_checkpoint(kafka.group_id, p) for p in gained}
        keys = StateKeys.of(self.settings.worker)
        saved, refused = (
            await asyncio.to_thread(read_checkpoints, kafka, kafka.state_topic, list(names.values()), keys)
            if gained
            else ({}, {})
        )
        for p in [p for p in gained if names[p] in refused]:
            # Never unpickled: the partition stays unread (and its checkpoint untouched) until a restart.
            gained.remove(p)
            if self.inputs is not None:
                self.inputs.refuse(p)
            metrics.CHECKPOINTS_REFUSED.labels(partition=str(p), reason=refused[names[p]].reason).inc()
            log.error("partition %d not started: %s", p, refused[names[p]])
        dispatch = await asyncio.to_thread(load_alert_states, kafka, gained) if gained else {}
        resumed: list[tuple[WorkerState, str, WindowJob | PerformanceJob]] = []
        async with self.lock:
            for p in gained:
                checkpoint = saved.get(names[p])
                state, generation = checkpoint if checkpoint is not None else (new_state(self.settings, self.reference), 0)
                state.configure(self.rules)
                for key, command in self.commands.items():
                    self.apply_command(state, key, command)
                self.states[p], self.generations[p] = state, generation
                if state.challenger is not None:
                    self.learning.put(p, state.challenger)
                # Before the partition's first message: its alerts have a dispatcher to go to.
                await self.alerting.take_over(p, dispatch.get(p), state.lifecycle.firing())
                resumed += [(state, key, job) for key, job in state.unpublished.items()]
                log.info(
                    "partition %d: %s",
                    p,
                    f"resumed from checkpoint {generation} ({sum(state.offsets.values())} events reflected)"
                    if checkpoint is not None
                    else "no checkpoint, starting fresh",
                )
        return resumed

    async def revoked(self, partitions: set[tuple[str, int]]) -> None:
        """Hand the partitions over: checkpoint their state and commit, then forget them (their analyses were waited for)."""
        lost = {p for _, p in partitions} & set(self.states)
        if not lost:
            return
        await self.checkpoint(lost)
        async with self.lock:
            for p in sorted(lost):
                del self.states[p], self.generations[p]
                self.learning.drop(p)
                await self.alerting.hand_over(p)
        log.info("partitions %s handed over", ", ".join(map(str, sorted(lost))))

    async def checkpoint_all(self) -> None:
        await self.checkpoint(set(self.states))

    async def checkpoint(self, partitions: set[int]) -> None:
        """Save each partition's state with the offsets it reflects, then commit those offsets to the group."""
        for p in sorted(partitions):
            async with self.lock:
                state = self.states.get(p)
                if state is None:
                    continue  # handed over meanwhile
                # The challengers as they are after every pair this state has joined.
                challenger = await self.learning.take(p)
                if challenger is not None:
                    state.challenger = challenger
                self.generations[p] += 1
                generation = self.generations[p]
                # Forked under the lock: the snapshot is of one consistent moment (every change to a
                # state holds the lock); a child pickles it while the worker goes on.
                taken = snapshot(state)
                offsets = dict(state.offsets)
                statuses = [model_status(state, model) for model in state.labels.models]
            started = asyncio.get_running_loop().time()
            name = partition_checkpoint(self.settings.kafka.group_id, p)
            try:
                payload = await asyncio.to_thread(taken.payload)
                # Hashing and signing 30 MB takes a while.
                records = await asyncio.to_thread(pack, payload, name, generation, StateKeys.of(self.settings.worker))
                # The chunks in parallel, then the manifest that points to them.
                await asyncio.gather(*(self.output.send(self.settings.kafka.state_topic, k, v) for k, v in records[:-1]))
                await self.output.send(self.settings.kafka.state_topic, *records[-1])
            except Exception:
                # Not taken or not saved, so not committed: the next checkpoint reflects these messages too.
                log.exception(
                    "checkpoint %d of partition %d could not be taken or written; retrying at the next interval", generation, p
                )
                # The retry writes the same slot again, not the one the manifest points to: were it
                # interrupted too, the previous checkpoint must still be whole.
                if self.generations.get(p) == generation:
                    self.generations[p] -= 1
                continue
            if self.inputs is not None:
                # Committed offsets never run ahead of a written checkpoint; a restart
                # resumes from the checkpoint's own offsets anyway (see _assigned).
                try:
                    await self.inputs.commit(offsets)
                except KafkaError as exc:
                    # A rebalance under way (a member that left or died) refuses the commit. Nothing is lost:
                    # the checkpoint holds these offsets, and the next checkpoint of the partitions still
                    # owned commits them again.
                    log.warning(
                        "offsets of checkpoint %d of partition %d not committed, committed at the next: %r", generation, p, exc
                    )
            try:
                for status in statuses:
                    await self.output.send(self.settings.kafka.model_status_topic, status.model.encode(), encode(status))
            except Exception:
                # The checkpoint is saved; the next one publishes the statuses again. Raising here
                # would crash the worker from its timer.
                log.exception("model statuses of checkpoint %d could not be published", generation)
            metrics.CHECKPOINT_BYTES.labels(partition=str(p)).set(sum(len(value) for _, value in records))
            metrics.CHECKPOINT_SECONDS.observe(asyncio.get_running_loop().time() - started)

    def idle_s(self, p: int, state: WorkerState, *topics: str) -> float | None:
        """Seconds partition ``p`` has been read to its end on ``topics`` with nothing new; None while any has unread messages.

        Only then may wall-clock time move event time on (as idle sources do in
        Flink): a worker that is merely behind, paused or waiting for analyses
        must not close windows or expire labels that the events still unread
        would have filled or joined.
        """
        now = time.monotonic()
        if self.inputs is None or any(self.inputs.unread(t, p, state.offsets.get((t, p), 0)) for t in topics):
            self.idle_since[p] = now
            return None
        return now - self.idle_since.setdefault(p, now)

    async def follow_control(self) -> None:
        """Apply the commands of the compacted control topic (reference replacements), read from its start."""
        kafka = self.settings.kafka
        async for key, value in follow_topic(kafka, kafka.control_topic):
            if key is not None and value is not None:
                command = _command(key.decode(), value)
                if command is None:
                    continue
                async with self.lock:
                    self.commands[key.decode()] = command
                    for state in self.states.values():
                        self.apply_command(state, key.decode(), command)

    def apply_command(self, state: WorkerState, key: str, command: Mapping[str, Any]) -> None:
        command_id, model, rows = str(command["id"]), command.get("model"), command["rows"]
        if state.applied.get(key) == command_id:
            return  # already in the restored state
        version = state.set_reference(rows, model)
        state.applied[key] = command_id
        log.info(
            "reference of %s replaced by %d rows from %s (version %d): windows closing from now on use it",
            model or "every model",
            len(rows),
            command.get("source", "?"),
            version,
        )


def model_status(state: WorkerState, model: str) -> ModelStatus:
    """What the model-status topic says of ``model``: its joins, repeats, latest quality and challenger."""
    stats, repeats = state.labels.stats(model), state.seen.counts(model)
    last = state.last_results.get(model)
    reference = state.reference_results.get(model)
    challenger = None
    if state.challenger is not None and model in state.challenger.models:
        own = state.challenger.state(model)
        challenger = ChallengerOut(**{name: getattr(own, name) for name in ChallengerOut.model_fields})
    return ModelStatus(
        model=model,
        at=utc_now(),
        predictions=stats.predictions,
        labels=stats.labels,
        joined=stats.joined,
        expired=stats.expired,
        orphaned=stats.orphaned,
        duplicates=stats.duplicates,
        resent_predictions=repeats.resent,
        conflicting_predictions=repeats.conflicting,
        evicted=stats.evicted,
        evicted_at=stats.evicted_at,
        coverage=stats.joined / stats.predictions if stats.predictions else 0.0,
        settled_coverage=stats.coverage,
        last_window=last[0] if last is not None else None,
        last_metrics=dict(last[1].metrics) if last is not None else {},
        reference_metrics=dict(reference.metrics) if reference is not None else {},
        challenger=challenger,
    )


def _command(key: str, value: bytes) -> Mapping[str, Any] | None:
    """A valid command of the control topic, or None (logged) for anything else."""
    try:
        command = orjson.loads(value)
        if command.get("command") != "set_reference":
            raise ValueError(f"unknown command {command.get('command')!r}")
        str(command["id"]), command["rows"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring an invalid command %s on the control topic: %s", key, exc)
        return None
    return cast(Mapping[str, Any], command)
