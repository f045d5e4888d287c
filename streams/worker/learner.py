"""The online challengers of the partitions a worker owns, learning in a process of their own.

Learning from every labelled prediction (River's scaler and model, one pair at
a time) was the largest single cost of the worker's loop: about a sixth of its
time at the default settings. A :class:`Learner` moves it to a child process,
on another core: the worker sends each batch's labelled pairs once the batch
is applied, and goes on; what learning causes (a promotion, a pair whose label
the model cannot use) comes back in order and is handled after a later batch.

The partition's state still holds its challengers (:attr:`WorkerState.challenger`,
checkpointed with it): :meth:`Learner.take` brings them back from the child at
each checkpoint, after every pair sent before it, so a checkpoint reflects
exactly the pairs of the offsets it saves; :meth:`Learner.put` hands a
partition's challengers to the child when the partition is assigned.

Each request's pairs of a partition go to its challengers in one call
(:meth:`Challenger.learn_many`), which costs less per pair than one call a pair; the
linear models learn in mini-batches of ``online.batch_size`` pairs of one model, cut by
counting that model's pairs, so what they learn does not depend on how the worker's
fetches grouped the pairs into requests (``bench/learner.py`` measures the cost).

One pipe carries everything, so the child sees a partition's pairs in the
order the worker joined them, and its replies come back in the order of the
requests. The child exits when the worker's end of the pipe closes.
"""

from __future__ import annotations

import asyncio
import fcntl
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from monitors.online.challenger import Challenger, Labelled, Promotion

__all__ = ["PROCESS_NAME", "Learner", "Outcome", "Rejected"]

# Batches sent and not yet answered before the worker waits for the child: bounds what the
# child may fall behind by (and so how long a checkpoint waits for it).
MAX_UNANSWERED = 8
# Room in each pipe: several batches of pairs (about 100 KB each at 20 features); Linux's default limit for
# an unprivileged process is 1 MB (fs.pipe-max-size).
PIPE_BYTES = 1 << 20
# The child's name in ps and top (Linux keeps 15 characters of it).
PROCESS_NAME = "streammon-learn"

Pair = tuple[int, str, bytes, Any, Any, bool, str]  # partition, model, features (JSON), prediction, label, learn, id


@dataclass(frozen=True)
class Rejected:
    """A labelled pair the challenger of ``model`` could not use, and why."""

    partition: int
    model: str
    prediction_id: str
    reason: str


Outcome = tuple[int, Promotion] | Rejected


class Learner:
    """A child process that holds and trains the challengers of this worker's partitions.

    Requests go down one pipe and replies come up another, each with room
    for several batches (:data:`PIPE_BYTES`), so writing a batch does not wait
    for the child to finish the one before; replies are read on the event
    loop, one reader at a time.

    Parameters
    ----------
    initializer
        Run first in the child (the worker passes the one that ends its processes with it).
    """

    def __init__(self, initializer: Callable[[], None] | None = None) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: the child must not inherit the event loop
        requests, self._requests = context.Pipe(duplex=False)
        self._replies, replies = context.Pipe(duplex=False)
        _widen(self._requests)
        _widen(replies)
        self._child_ends = (requests, replies)
        self._process = context.Process(
            target=_serve, args=(requests, replies, initializer), name="streammon-learner", daemon=True
        )
        self._pairs: list[Pair] = []
        self._unanswered = 0
        self._reading: asyncio.Lock | None = None
        self.started = False

    def start(self) -> None:
        """Start the child and the thread that writes to it."""
        self._process.start()
        for end in self._child_ends:
            end.close()
        self.started = True

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return self._process.pid

    def put(self, partition: int, challenger: Challenger) -> None:
        """Give the child the challengers of ``partition`` (as assigned: restored or new)."""
        self._requests.send(("put", partition, challenger))

    def drop(self, partition: int) -> None:
        """Forget ``partition`` (handed over)."""
        self._requests.send(("drop", partition))

    def learn(
        self, partition: int, model: str, features: bytes, prediction: Any, label: Any, learn: bool, prediction_id: str
    ) -> None:
        """Queue one labelled pair; :meth:`send` sends the queued pairs."""
        self._pairs.append((partition, model, features, prediction, label, learn, prediction_id))

    async def send(self) -> list[Outcome]:
        """Send the queued pairs; return the outcomes that have come back (waiting when the child is far behind)."""
        # Under the reader's lock: a take() waiting for its reply has every request before it answered first.
        async with self._reader():
            self._request_learning()
            outcomes: list[Outcome] = []
            while self._unanswered > MAX_UNANSWERED:
                outcomes += self._answered(await asyncio.to_thread(self._replies.recv))
            while self._unanswered and self._replies.poll():
                outcomes += self._answered(self._replies.recv())
            return outcomes

    async def take(self, partition: int) -> tuple[Challenger | None, list[Outcome]]:
        """The challengers of ``partition`` after every pair queued so far, and the outcomes that came back before them."""
        async with self._reader():
            outcomes: list[Outcome] = []
            self._request_learning()
            self._requests.send(("take", partition))
            while True:
                reply = await asyncio.to_thread(self._replies.recv)
                if reply[0] == "taken":
                    return reply[1], outcomes
                outcomes += self._answered(reply)

    def close(self) -> None:
        """Close the pipes; the child ends when it reads the end of its requests."""
        self._requests.close()
        self._replies.close()

    def _request_learning(self) -> None:
        if self._pairs:
            self._requests.send(("learn", self._pairs))
            self._pairs = []
            self._unanswered += 1

    def _reader(self) -> asyncio.Lock:
        if self._reading is None:
            self._reading = asyncio.Lock()
        return self._reading

    def _answered(self, reply: tuple[str, list[Outcome]]) -> list[Outcome]:
        self._unanswered -= 1
        return reply[1]


def _name_process() -> None:
    # What ps and top show for it, beside the analysis processes (which look the same otherwise).
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(PROCESS_NAME)
    except OSError:
        pass  # not Linux


def _widen(end: Connection) -> None:
    # Best effort: a system that refuses keeps its default (64 KB), and writing then waits more often.
    try:
        fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass


def _serve(requests: Connection, replies: Connection, initializer: Callable[[], None] | None) -> None:
    _name_process()
    if initializer is not None:
        initializer()
    challengers: dict[int, Challenger] = {}
    while True:
        try:
            request = requests.recv()
        except EOFError:  # the worker closed its end, or is gone
            return
        kind = request[0]
        if kind == "learn":
            replies.send(("learned", _learn(challengers, request[1])))
        elif kind == "put":
            challengers[request[1]] = request[2]
        elif kind == "take":
            replies.send(("taken", challengers.get(request[1])))
        elif kind == "drop":
            challengers.pop(request[1], None)


def _learn(challengers: dict[int, Challenger], pairs: list[Pair]) -> list[Outcome]:
    # One call a partition (Challenger.learn_many, which batches each model's pairs itself);
    # the outcomes come back in the order of the pairs.
    positions: dict[int, list[int]] = {}
    for i, pair in enumerate(pairs):
        if pair[0] in challengers:  # else handed over since
            positions.setdefault(pair[0], []).append(i)
    outcomes: dict[int, Outcome] = {}
    for partition, indices in positions.items():
        batch: list[Labelled] = []
        decoded: list[int] = []
        for i in indices:
            _, model, features, prediction, label, learn, prediction_id = pairs[i]
            try:
                batch.append((model, orjson.loads(features), prediction, label, learn))
                decoded.append(i)
            except orjson.JSONDecodeError as exc:
                outcomes[i] = Rejected(partition, model, prediction_id, str(exc))
        for i, result in zip(decoded, challengers[partition].learn_many(batch), strict=True):
            if isinstance(result, Promotion):
                outcomes[i] = (partition, result)
            elif result is not None:
                # A label of the wrong kind for the task (a string for a regression): counted, never fatal.
                _, model, _, _, _, _, prediction_id = pairs[i]
                outcomes[i] = Rejected(partition, model, prediction_id, str(result))
    return [outcomes[i] for i in sorted(outcomes)]
