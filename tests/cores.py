"""Which cores the test processes run on: one per pytest-xdist worker, and every core where a test needs
the whole machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

#: The cores this process may use before a pytest-xdist worker is pinned to one of them.
ALL_CORES: frozenset[int] = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def one_core_per_worker() -> None:
    """Under pytest-xdist with no more workers than cores, each worker (and what it starts) runs on a core
    of its own. Otherwise each worker's torch, OpenVINO and FAISS size their thread pools to every core
    and the pools contend: ``make test-fast`` took 7.2 CPU-minutes that way and 6.0 pinned. The code under
    test reads its core count from the affinity mask (``indexer.embedding.cpu_count``); a test that needs
    the whole machine widens it with ``every_core()``."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not (worker.startswith("gw") and count.isdigit() and ALL_CORES):
        return
    cores = sorted(ALL_CORES)
    if 1 < int(count) <= len(cores):
        os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


@contextmanager
def every_core() -> Iterator[None]:
    """Within the block this thread (and the threads it starts) may run on every core again."""
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, ALL_CORES)
    try:
        yield
    finally:
        os.sched_setaffinity(0, pinned)
