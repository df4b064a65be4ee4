"""Micro-batching: concurrent callers of one batch function share forward passes.

A model forward pass over 8 short queries costs little more than over one, so when several threads
ask for query embeddings at the same time (an HTTP server under load), running them together raises
throughput. :class:`MicroBatcher` does that without ever adding a wait:

- a caller that finds a free lane runs its own items at once (a lone request is never delayed);
- up to ``lanes`` batches run at the same time (one per core the engine can use on its own, so two
  cores run two batches instead of splitting one small batch between them);
- callers that arrive while every lane is busy queue up; when a batch finishes, the first of them
  becomes the next leader and runs everything queued (up to ``max_items``) in one call;
- every caller gets back exactly the rows for its own items, in order; an exception raised by the
  batch function is re-raised in every caller of that batch.

The batch function is called as ``fn(items, shared)``: ``shared`` is False when the batch is the only
work in flight (the engine may then spread it over every core for the lowest latency) and True when
other batches run beside it (each should then stay on one core). A caller that knows of other work
the batcher cannot see (a server's other searches, between their embedding steps) passes ``busy=True``
so its batch counts as shared too. A leader hands off instead of looping, so it returns as soon as its
own batch is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class _Request(Generic[T]):
    items: list[T]
    busy: bool = False  # the caller knows of other work in flight
    event: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: np.ndarray | None = None
    error: BaseException | None = None


@dataclass
class BatchStats:
    calls: int = 0  # requests served
    batches: int = 0  # calls of the batch function
    items: int = 0
    largest: int = 0  # most requests coalesced into one batch
    shared: int = 0  # batches that ran beside another batch

    def to_dict(self) -> dict[str, float]:
        return {"calls": self.calls, "batches": self.batches, "items": self.items, "largest": self.largest,
                "shared_batches": self.shared,
                "requests_per_batch": round(self.calls / self.batches, 3) if self.batches else 0.0}


class MicroBatcher(Generic[T]):
    """Coalesce concurrent ``__call__(items)`` into calls of ``fn(all_items, shared) -> rows``.

    ``fn`` must return one row per item (a 2-D array). ``max_items`` bounds one batch; a single
    request larger than that still runs, alone. ``lanes`` batches may run at once.
    """

    def __init__(self, fn: Callable[[list[T], bool], np.ndarray], *, max_items: int = 64, lanes: int = 1) -> None:
        self._fn = fn
        self.max_items = max(1, max_items)
        self.lanes = max(1, lanes)
        self._lock = threading.Lock()
        self._queue: list[_Request[T]] = []
        self._running = 0
        self.stats = BatchStats()

    def __call__(self, items: Sequence[T], *, busy: bool = False) -> np.ndarray:
        req: _Request[T] = _Request(list(items), busy)
        with self._lock:
            lead = self._running < self.lanes  # a free lane (then nobody is queued): run at once
            if lead:
                self._running += 1
            else:
                self._queue.append(req)
        if not lead:
            req.event.wait()
            if req.done:
                return self._result(req)
            # promoted: a finished batch handed us its lane, run the next batch ourselves
        self._run_batch(req)
        return self._result(req)

    @staticmethod
    def _result(req: _Request[T]) -> np.ndarray:
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _run_batch(self, first: _Request[T]) -> None:
        with self._lock:
            batch = [first]
            n = len(first.items)
            while self._queue and n + len(self._queue[0].items) <= self.max_items:
                n += len(self._queue[0].items)
                batch.append(self._queue.pop(0))
            shared = self._running > 1 or bool(self._queue) or any(r.busy for r in batch)
        try:
            rows = self._fn([x for r in batch for x in r.items], shared)
            at = 0
            for r in batch:
                r.result = rows[at : at + len(r.items)]
                at += len(r.items)
        except BaseException as e:  # noqa: B036 - delivered to every waiting caller, not swallowed
            for r in batch:
                r.error = e
        with self._lock:
            self.stats.calls += len(batch)
            self.stats.batches += 1
            self.stats.items += n
            self.stats.largest = max(self.stats.largest, len(batch))
            self.stats.shared += shared
            for r in batch:
                r.done = True
                r.event.set()
            if self._queue:  # hand this lane on: the first waiting request leads the next batch
                self._queue.pop(0).event.set()
            else:
                self._running -= 1
