"""Search lanes: concurrent query requests share one search call instead of each taking a thread.

This is the service's one query-batching mechanism (the library embeds what it is given; the lanes
decide what runs together and on how many cores), and :class:`LaneStats` its one stats type.

A query request hands its work to a few lane threads (one per core) and awaits the answer on the
event loop. A lane takes every request waiting when it starts (up to ``max_batch``), groups them by
key (collection and search options) and runs each group as one call - for queries that is one
``Collection.search_batch``: one embedding forward pass, one read snapshot, and the responses
serialized in the lane. Why: a forward pass over 4 short queries costs little more than 3 over one,
and a thread per request spends its time handing the GIL back and forth.

The rules:

- a request that finds no lane at its forward pass is taken at once: nothing ever waits for a timer,
  so a lone request is not delayed;
- while a lane runs its forward pass, another lane starts only once ``backlog`` requests wait, so a
  burst becomes one bigger batch instead of many batches of one; once the pass is done (the lane calls
  ``release()`` and goes on with the ranking in Python), the next batch may start on the free core;
- a batch run while other work is in flight (more than one request, others waiting, or another lane
  running) is ``busy``: its embedding runs inside :func:`indexer.embedding.cpu.one_core`, so it stays
  on one core and leaves the others to the HTTP loop;
- a group that fails is retried one request at a time, so a bad request never fails its neighbours;
- results are handed back to the event loop; a request whose client went away is simply dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: ``run(key, items, lane) -> one result per item``
RunGroup = Callable[[Any, list[Any], "Lane"], list[Any]]


class LanesClosed(RuntimeError):
    """The service is shutting down; the request was not run."""


@dataclass
class LaneStats:
    requests: int = 0  # requests answered
    batches: int = 0  # times a lane took work
    groups: int = 0  # calls of the group function (a batch holds one per distinct key)
    largest: int = 0  # most requests taken in one batch
    busy: int = 0  # batches run beside other work
    retried: int = 0  # groups that failed and were rerun one request at a time

    def to_dict(self) -> dict[str, float]:
        return {"requests": self.requests, "batches": self.batches, "groups": self.groups,
                "largest": self.largest, "busy_batches": self.busy, "retried_groups": self.retried,
                "requests_per_batch": round(self.requests / self.batches, 3) if self.batches else 0.0}


@dataclass
class _Pending:
    key: Any
    item: Any
    future: asyncio.Future[Any]  # of the submitting event loop, which resolves it


class Lane:
    """What a group function knows of the lane running it."""

    def __init__(self, lanes: SearchLanes, busy: bool) -> None:
        self._lanes = lanes
        self.busy = busy  # other work is in flight: stay on one core
        self._released = False

    def release(self) -> None:
        """The forward pass is done: another lane may start on waiting requests."""
        if not self._released:
            self._released = True
            self._lanes._released()


class SearchLanes:
    """Run ``run(key, items, lane)`` for batches of submitted items on ``lanes`` threads."""

    def __init__(self, run: RunGroup, *, lanes: int, backlog: int = 2, max_batch: int = 64,
                 name: str = "search-lane") -> None:
        self._run = run
        self.lanes = max(1, lanes)
        self.backlog = max(1, backlog)
        self.max_batch = max(1, max_batch)
        self._name = name
        self._cv = threading.Condition()
        self._pending: deque[_Pending] = deque()
        self._running = 0  # lanes with a batch
        self._forward = 0  # of those, lanes that have not released their core yet
        self._closed = False
        self._threads: list[threading.Thread] = []
        self.stats = LaneStats()

    @property
    def pending(self) -> int:
        """Requests waiting for a lane."""
        with self._cv:
            return len(self._pending)

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        with self._cv:
            if self._threads:
                return
            self._threads = [threading.Thread(target=self._lane, name=f"{self._name}-{i}", daemon=True)
                             for i in range(self.lanes)]
        for t in self._threads:
            t.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking requests, fail the ones still waiting, and let running batches finish."""
        with self._cv:
            self._closed = True
            left = list(self._pending)
            self._pending.clear()
            self._cv.notify_all()
        for p in left:
            _hand_back(p, None, LanesClosed("The service is shutting down; try again in a moment."))
        for t in self._threads:
            t.join(timeout)

    async def submit(self, key: Any, item: Any) -> Any:
        """The result of ``item`` (run with everything else of the same ``key`` a lane takes with it)."""
        pending = _Pending(key, item, asyncio.get_running_loop().create_future())
        with self._cv:
            if self._closed:
                raise LanesClosed("The service is shutting down; try again in a moment.")
            if not self._threads:
                raise LanesClosed("The service is still starting; try again in a moment.")
            self._pending.append(pending)
            self._cv.notify()
        return await pending.future

    # -- lane threads --------------------------------------------------------------------------------
    def _ready(self) -> bool:
        if not self._pending:
            return False
        return self._forward == 0 or len(self._pending) >= self.backlog

    def _lane(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._ready():
                    self._cv.wait()
                if self._closed:
                    return
                taken = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
                batch = [p for p in taken if not p.future.cancelled()]  # their clients went away
                if not batch:
                    continue
                self._running += 1
                self._forward += 1
                busy = len(batch) > 1 or bool(self._pending) or self._running > 1
                self.stats.batches += 1
                self.stats.requests += len(batch)
                self.stats.largest = max(self.stats.largest, len(batch))
                self.stats.busy += busy
            lane = Lane(self, busy)
            try:
                self._run_batch(batch, lane)
            except BaseException as e:  # noqa: B036 - no request may wait forever; answered ones ignore it
                for p in batch:
                    _hand_back(p, None, e)
                raise
            finally:
                lane.release()
                with self._cv:
                    self._running -= 1
                    self._cv.notify_all()

    def _released(self) -> None:
        with self._cv:
            self._forward -= 1
            self._cv.notify_all()  # a waiting backlog may now be taken by any free lane

    def _run_batch(self, batch: list[_Pending], lane: Lane) -> None:
        groups: list[tuple[Any, list[_Pending]]] = []
        for p in batch:
            for key, members in groups:
                if key == p.key:
                    members.append(p)
                    break
            else:
                groups.append((p.key, [p]))
        for key, members in groups:
            self._run_group(key, members, lane)

    def _run_group(self, key: Any, members: list[_Pending], lane: Lane) -> None:
        with self._cv:
            self.stats.groups += 1
        try:
            results = self._run(key, [p.item for p in members], lane)
            if len(results) != len(members):
                raise RuntimeError(f"group function returned {len(results)} results for {len(members)} items")
        except Exception as e:  # noqa: BLE001 - delivered to the request(s), never lost
            if len(members) == 1:
                _hand_back(members[0], None, e)
                return
            with self._cv:
                self.stats.retried += 1
            for p in members:  # find the request at fault; the others still get their answers
                self._run_group(key, [p], lane)
            return
        for p, result in zip(members, results, strict=True):
            _hand_back(p, result, None)


def _hand_back(p: _Pending, result: Any, error: BaseException | None) -> None:
    try:
        p.future.get_loop().call_soon_threadsafe(_resolve, p.future, result, error)
    except RuntimeError:  # the event loop has closed: nobody is waiting any more
        log.debug("search lane result dropped: event loop closed")


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled: the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
