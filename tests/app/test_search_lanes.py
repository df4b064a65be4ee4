"""Search lanes: concurrent requests share group calls; a lone request runs at once; failures stay put."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.search_lanes import Lane, LanesClosed, SearchLanes


class Recorder:
    """A group function that records its calls and can hold the first one until released."""

    def __init__(self, *, hold_first: bool = False, release_early: bool = False) -> None:
        self.calls: list[tuple[Any, list[Any], bool]] = []
        self.gate = threading.Event()
        self.started = threading.Event()
        self.hold = hold_first
        self.release_early = release_early
        self.lock = threading.Lock()

    def __call__(self, key: Any, items: list[Any], lane: Lane) -> list[Any]:
        with self.lock:
            self.calls.append((key, list(items), lane.busy))
            first = len(self.calls) == 1
        if self.release_early:
            lane.release()
        if first and self.hold:
            self.started.set()
            assert self.gate.wait(10)
        if any(i == "bad" for i in items):
            raise ValueError("bad item")
        return [f"{key}:{i}" for i in items]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@contextlib.contextmanager
def running(rec: Recorder, **kw: Any) -> Iterator[SearchLanes]:
    lanes = SearchLanes(rec, **kw)
    lanes.start()
    try:
        yield lanes
    finally:
        lanes.close()


def behind_a_held_batch(lanes: SearchLanes, rec: Recorder, submits: list[tuple[str, str]]) -> list[Any]:
    """Hold a first request ("c", "a") in its lane, submit the others while it runs, then let it go;
    every answer (or error) in submission order, the held one first."""
    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(lanes.submit("c", "a"))
        await asyncio.to_thread(rec.started.wait, 5)
        rest = [asyncio.ensure_future(lanes.submit(key, q)) for key, q in submits]
        await asyncio.to_thread(wait_for, lambda: lanes.pending == len(submits))  # all queued behind it
        rec.gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    return run(scenario())


def wait_for(cond: Any, timeout: float = 5.0) -> None:
    """Until ``cond()`` holds (checked every 2 ms; no fixed sleep decides an outcome)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def test_lone_request_runs_at_once_and_alone():
    rec = Recorder()
    with running(rec, lanes=2) as lanes:
        async def one() -> tuple[Any, float]:
            t0 = time.perf_counter()
            return await lanes.submit("c", "q"), time.perf_counter() - t0

        result, took = run(one())
        assert result == "c:q"
        assert took < 0.5  # no timer to wait for: a lane takes it as soon as it is woken
        assert rec.calls == [("c", ["q"], False)]  # alone: free to use every core
        assert lanes.stats.to_dict()["requests_per_batch"] == 1.0


def test_requests_waiting_behind_a_batch_share_one_group_call():
    rec = Recorder(hold_first=True)
    with running(rec, lanes=1) as lanes:
        results = behind_a_held_batch(lanes, rec, [("c", "b"), ("d", "x"), ("c", "e"), ("c", "f")])
        assert results == ["c:a", "c:b", "d:x", "c:e", "c:f"]
        # one call per key for everything that waited; the batch ran beside nothing but was not alone
        assert rec.calls == [("c", ["a"], False), ("c", ["b", "e", "f"], True), ("d", ["x"], True)]
        assert lanes.stats.batches == 2 and lanes.stats.groups == 3 and lanes.stats.largest == 4


def test_a_failing_request_does_not_fail_its_group():
    rec = Recorder(hold_first=True)
    with running(rec, lanes=1) as lanes:
        a, b, bad, d = behind_a_held_batch(lanes, rec, [("c", "b"), ("c", "bad"), ("c", "d")])
        assert (a, b, d) == ("c:a", "c:b", "c:d")
        assert isinstance(bad, ValueError)
        assert lanes.stats.retried == 1  # the group failed once, then ran one request at a time


def test_second_lane_waits_for_a_backlog_until_the_first_releases_its_core():
    rec = Recorder(hold_first=True)
    with running(rec, lanes=2, backlog=2) as lanes:
        async def scenario() -> list[Any]:
            first = asyncio.ensure_future(lanes.submit("c", "a"))
            await asyncio.to_thread(rec.started.wait, 5)
            second = asyncio.ensure_future(lanes.submit("c", "b"))
            await asyncio.to_thread(wait_for, lambda: lanes.pending == 1)
            assert len(rec.calls) == 1  # one waiting request does not start the second lane
            third = asyncio.ensure_future(lanes.submit("c", "c"))
            await asyncio.to_thread(wait_for, lambda: len(rec.calls) == 2)  # two do, as one batch
            rec.gate.set()
            return [await f for f in (first, second, third)]

        assert run(scenario()) == ["c:a", "c:b", "c:c"]
        assert rec.calls[1] == ("c", ["b", "c"], True)


def test_a_lane_past_its_forward_pass_lets_the_next_request_start():
    rec = Recorder(hold_first=True, release_early=True)
    with running(rec, lanes=2, backlog=8) as lanes:
        async def scenario() -> list[Any]:
            first = asyncio.ensure_future(lanes.submit("c", "a"))
            await asyncio.to_thread(rec.started.wait, 5)  # released, still running its ranking
            second = asyncio.ensure_future(lanes.submit("c", "b"))
            await asyncio.to_thread(wait_for, lambda: len(rec.calls) == 2)  # taken without a backlog
            rec.gate.set()
            return [await first, await second]

        assert run(scenario()) == ["c:a", "c:b"]
        assert rec.calls[1] == ("c", ["b"], True)  # beside the other lane: stay on one core


def test_cancelled_request_is_skipped_and_the_lane_goes_on():
    rec = Recorder(hold_first=True)
    with running(rec, lanes=1) as lanes:
        async def scenario() -> Any:
            first = asyncio.ensure_future(lanes.submit("c", "a"))
            await asyncio.to_thread(rec.started.wait, 5)
            gone = asyncio.ensure_future(lanes.submit("c", "gone"))
            await asyncio.to_thread(wait_for, lambda: lanes.pending == 1)  # queued behind the held batch
            gone.cancel()
            rec.gate.set()
            await first
            return await lanes.submit("c", "after")

        assert run(scenario()) == "c:after"
        assert all("gone" not in items for _, items, _ in rec.calls)


def test_close_fails_waiting_requests_and_refuses_new_ones():
    rec = Recorder(hold_first=True)
    lanes = SearchLanes(rec, lanes=1)
    lanes.start()

    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(lanes.submit("c", "a"))
        await asyncio.to_thread(rec.started.wait, 5)
        waiting = asyncio.ensure_future(lanes.submit("c", "b"))
        await asyncio.to_thread(wait_for, lambda: lanes.pending == 1)
        closer = asyncio.ensure_future(asyncio.to_thread(lanes.close))
        await asyncio.to_thread(wait_for, lambda: lanes.closed)  # closing: the waiting one is failed
        rec.gate.set()  # the running batch still finishes
        await closer
        return await asyncio.gather(first, waiting, return_exceptions=True)

    first, waiting = run(scenario())
    assert first == "c:a"
    assert isinstance(waiting, LanesClosed)
    with pytest.raises(LanesClosed):
        run(lanes.submit("c", "late"))


# -- through the app ------------------------------------------------------------------------------------
def test_concurrent_queries_each_get_their_own_answer(indexed):
    """Many queries at once over HTTP: every response is the one its query gets alone."""
    app = indexed.app
    queries = ["jupiter planet", "sourdough bread", "green tea", "python lists", "largest planet",
               "baking bread", "water below boiling", "mutable sequences"] * 2
    alone = {q: indexed.get("/collections/notes/query", params={"q": q, "k": 3, "mode": "dense"}).json()
             for q in set(queries)}
    before = app.state.search_lanes.stats.requests

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(
                client.get("/collections/notes/query", params={"q": q, "k": 3, "mode": "dense"}) for q in queries))

    responses = asyncio.run(together())
    for q, r in zip(queries, responses, strict=True):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["query"] == q
        assert [h["id"] for h in body["hits"]] == [h["id"] for h in alone[q]["hits"]]
        # scores come rounded to 4 decimals (SCORE_DECIMALS): a batch's float sums may tip the last one
        assert [h["score"] for h in body["hits"]] == pytest.approx([h["score"] for h in alone[q]["hits"]],
                                                                   abs=1.01e-4)
    assert app.state.search_lanes.stats.requests - before == len(queries)
    metrics = indexed.get("/metrics").text
    assert "semsearch_search_lane_requests_total" in metrics


def test_lane_errors_keep_their_status(indexed):
    r = indexed.get("/collections/nope/query", params={"q": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"]
    r = indexed.post("/collections/notes/query", json={"query": "bread", "k": 2, "mode": "dense"})
    assert r.status_code == 200 and r.json()["hits"]


def test_a_query_during_shutdown_gets_503_not_500(indexed):
    """Once the lanes stop taking work, a query is told to retry rather than shown a server error."""
    closed = SearchLanes(lambda key, items, lane: items, lanes=1)
    closed.start()
    closed.close()
    running = indexed.app.state.search_lanes
    indexed.app.state.search_lanes = closed
    try:
        r = indexed.get("/collections/notes/query", params={"q": "bread"})
    finally:
        indexed.app.state.search_lanes = running
    assert r.status_code == 503, r.text
    assert "shutting down" in r.json()["error"]["message"] and r.headers["retry-after"] == "1"
