"""What the worker writes to Kafka: every send waits for the broker, and a message too large is refused before it is sent."""

from __future__ import annotations

import logging

import faust
from aiokafka import ConsumerRecord
from aiokafka.errors import MessageSizeTooLargeError

from streams import metrics
from streams.codec import dead_letter, encode, encode_dead_letter, record_bytes
from streams.errors import MessageTooLargeError
from streams.events import PerformanceReport, WindowReport
from streams.settings import Settings
from streams.worker.state import WorkerState

log = logging.getLogger(__name__)


class Output:
    """The worker's producer: results, dead letters and everything else it sends, acknowledged."""

    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Produce one message and wait for the broker's acknowledgement.

        Raises :class:`MessageTooLargeError`, counted, for a message that does
        not fit: checked against the producer's ``max_request_size`` before
        sending, and mapped from the client's or the broker's refusal.
        """
        limit = self.app.conf.producer_max_request_size
        size = record_bytes(key, value)
        if size > limit:
            metrics.TOO_LARGE.labels(topic=topic).inc()
            raise MessageTooLargeError(topic, key, size, limit)
        # Wait for the broker's acknowledgement: alert state written here must
        # survive a restart, and alerts must not be reported sent before they are.
        try:
            pending = await self.app.send(topic, key=key, value=value)
            await pending
        except Exception as exc:
            # The broker's message.max.bytes (or the topic's) may be below the producer's limit.
            # Faust wraps the client's refusal in a ProducerSendError; the broker's comes as is.
            refusal = exc if isinstance(exc, MessageSizeTooLargeError) else exc.__cause__
            if not isinstance(refusal, MessageSizeTooLargeError):
                raise
            metrics.TOO_LARGE.labels(topic=topic).inc()
            raise MessageTooLargeError(topic, key, size, limit, str(refusal)) from exc
        metrics.MESSAGES_OUT.labels(topic=topic).inc()

    async def publish_result(self, state: WorkerState, key: str, what: str, report: WindowReport | PerformanceReport) -> bool:
        """Send a result to the reports topic and take it off the unpublished ones; False when it could not fit.

        A report too large for its topic would fail again on every retry (and after
        every restart): it is logged with its key, counted, and dropped.
        """
        try:
            await self.send(self.settings.kafka.reports_topic, report.key.encode(), encode(report))
        except MessageTooLargeError as exc:
            log.error("%s: report not published, dropped: %s", what, exc)
            state.unpublished.pop(key, None)
            return False
        # Any other failure leaves it unpublished: the checkpoint keeps it for a retry.
        state.unpublished.pop(key, None)
        return True

    async def dead_letter(self, message: ConsumerRecord[bytes, bytes], error: str) -> None:
        record = dead_letter(
            error,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=message.timestamp,
            key=message.key,
            value=message.value,
            max_bytes=self.settings.worker.max_message_bytes,
        )
        key, value = encode_dead_letter(record)
        # Acknowledged by the broker before the message can be (with the next checkpoint): a
        # dead letter whose send failed unawaited would be lost without a trace.
        await self.send(self.settings.kafka.dead_letter_topic, key, value)
        metrics.EVENTS.labels(topic=message.topic, outcome="dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, record.error)
