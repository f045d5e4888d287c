"""Online learning: the challengers learn labelled pairs in a process of their own, and what that causes comes back.

The learner's process (:mod:`streams.worker.learner`) starts with the first labelled
pair, so a worker that gets no labels never pays for it. A promotion (a
challenger that beats the deployed model) is announced on the model-updates
topic; a pair the challenger cannot use is counted and logged.
"""

from __future__ import annotations

import functools
import logging
import os

from monitors.labels.join import LabelledPair
from monitors.online.challenger import Challenger, Promotion
from streams import metrics
from streams.clock import utc_now
from streams.codec import encode
from streams.events import PromotionEvent
from streams.settings import Settings
from streams.worker.analysis import follow_parent
from streams.worker.learner import Learner, Outcome, Rejected
from streams.worker.output import Output
from streams.worker.state import WorkerState

log = logging.getLogger(__name__)


class Learning:
    """The online challengers of every partition this worker owns, learning in the learner's process."""

    def __init__(self, settings: Settings, states: dict[int, WorkerState], output: Output) -> None:
        self.settings = settings
        self.states = states  # the worker's, by input partition
        self.output = output
        self.learner = Learner(functools.partial(follow_parent, os.getpid())) if settings.online.enabled else None

    @property
    def started(self) -> bool:
        """Whether the learner's process runs."""
        return self.learner is not None and self.learner.started

    def learn(self, p: int, pair: LabelledPair, trusted: bool) -> None:
        """Hand a pair to partition ``p``'s challengers; what it causes comes back after a later batch (see :meth:`learned`)."""
        if self.learner is None:
            return
        if not self.learner.started:
            self._start()
        self.learner.learn(
            p, pair.model, pair.prediction.features_json, pair.prediction.prediction, pair.label, trusted, pair.prediction_id
        )

    def put(self, p: int, challenger: Challenger) -> None:
        """Give the learner partition ``p``'s challengers, as restored (once it runs)."""
        if self.learner is not None and self.learner.started:
            self.learner.put(p, challenger)

    def drop(self, p: int) -> None:
        """Forget partition ``p``'s challengers: it was handed over."""
        if self.learner is not None and self.learner.started:
            self.learner.drop(p)

    async def take(self, p: int) -> Challenger | None:
        """Partition ``p``'s challengers after every pair handed over so far (for its checkpoint); None if not learning."""
        if self.learner is None or not self.learner.started:
            return None
        challenger, outcomes = await self.learner.take(p)
        await self.learned(outcomes)
        return challenger

    async def collect(self) -> None:
        """Carry out what the pairs learned since the last call caused."""
        if self.learner is not None:
            await self.learned(await self.learner.send())

    def _start(self) -> None:
        """Start the learner's process with the first labelled pair (a worker that gets no labels never needs it)."""
        assert self.learner is not None
        self.learner.start()
        log.info("the online challengers learn in process %s", self.learner.pid)
        for p, state in self.states.items():
            if state.challenger is not None:
                self.learner.put(p, state.challenger)

    def rejected(self, model: str, prediction_id: str, reason: str) -> None:
        # A label of the wrong kind for the task (a string for a regression): counted, never fatal.
        metrics.LABELLED_REJECTED.labels(model=model).inc()
        log.warning("%s: labelled prediction %s not usable: %s", model, prediction_id, reason)

    async def learned(self, outcomes: list[Outcome]) -> None:
        """What learning from labelled pairs caused: promotions to announce, pairs the challenger could not use."""
        for outcome in outcomes:
            if isinstance(outcome, Rejected):
                self.rejected(outcome.model, outcome.prediction_id, outcome.reason)
                continue
            partition, promotion = outcome
            state = self.states.get(partition)
            if state is not None:
                await self._promote(state, promotion)

    async def _promote(self, state: WorkerState, promotion: Promotion) -> None:
        model = promotion.model
        event = PromotionEvent(
            model=model,
            challenger=promotion.challenger,
            metric=promotion.metric,
            challenger_score=promotion.challenger_score,
            deployed_score=promotion.deployed_score,
            margin=promotion.margin,
            labelled=promotion.labelled,
            at=utc_now(),
            offsets={f"{topic}/{partition}": offset for (topic, partition), offset in state.offsets.items()},
        )
        await self.output.send(self.settings.kafka.model_updates_topic, model.encode(), encode(event))
        log.warning(
            "%s: the online %s beats the deployed model (%s %.3f vs %.3f over %d labelled predictions)",
            model,
            promotion.challenger,
            promotion.metric,
            promotion.challenger_score,
            promotion.deployed_score,
            promotion.labelled,
        )
