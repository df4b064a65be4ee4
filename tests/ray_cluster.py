"""A Ray cluster of real nodes for the tests, each node on its own loopback address, stopped by pid.

``ray_cluster(("127.0.0.3", "127.0.0.2"))`` starts a head on the first address and a worker node on each
other one, as ``ray start --block`` processes (``ray start`` without ``--block`` returns at once and leaves
its processes to ``ray stop``, which stops every Ray cluster on the machine, other people's too). Each node is
told its address (``--node-ip-address``; Ray would otherwise advertise the machine's external one) and given
free ports for everything it listens on, so clusters of several test runs side by side never meet; its
``--temp-dir`` is a folder of its own; one CPU and a small object store by default.

A driver joins with the cluster's ``address`` and ``env``: token authentication (this Ray's default) with a
token of this cluster alone, passed in the environment, so nothing is written to ``~/.ray``.

Stopping: SIGTERM to each ``ray start --block`` (by its pid: it drains the node and stops every process it
started), worker nodes first; whatever is still alive in the node's process group after that (its pid is the
group's id: the node runs in a session of its own) is SIGKILLed. A test run killed outright still stops its
nodes: each ``ray start`` gets SIGTERM from the kernel when the thread that started it ends (``setpriv
--pdeathsig``). Starting Ray makes a test ``slow``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests import processes
from tests.serving import REPO, free_port

#: ``ray`` as its console script runs it, with this interpreter.
RAY = [sys.executable, "-m", "ray.scripts.scripts"]
#: How long a node may take to start or to stop: a bound, not a speed check (a shared 2-core machine).
TIMEOUT = 120.0
STARTED = "Ray runtime started"  # what ``ray start`` prints once its node is up


@dataclass
class RayNode:
    """One ``ray start --block`` process and the node it runs."""

    ip: str
    proc: subprocess.Popen[bytes]
    log: Path  #: its output (``ray start``'s own; the node's processes log under the temp dir)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def processes(self) -> list[int]:
        """The pids of the node's processes still running (its process group, led by ``pid``)."""
        return [p.pid for p in processes.running().values() if p.pgid == self.pid]


@dataclass
class RayCluster:
    """A running cluster: ``address`` (the head's GCS, ``HOST:PORT``) and the ``env`` a driver needs."""

    address: str
    env: dict[str, str]
    nodes: list[RayNode] = field(default_factory=list)  #: the head first


@contextmanager
def ray_cluster(ips: tuple[str, ...] = ("127.0.0.3", "127.0.0.2"), *, cpus: int = 1,
                object_store_bytes: int = 100_000_000) -> Iterator[RayCluster]:
    """A head on ``ips[0]`` and a worker node on each other address, ``cpus`` CPUs and an object store of
    ``object_store_bytes`` each, stopped after. When the block starts each ``ray start`` has said its node
    runs; a driver that needs every node's CPUs asks for them (``--ray-actors``): its actors wait for them."""
    folder = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    port = free_port()
    cluster = RayCluster(f"{ips[0]}:{port}", {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                                              "RAY_USAGE_STATS_ENABLED": "0"})
    env = {**os.environ, **cluster.env, "PYTHONPATH": str(REPO)}  # the actors import this checkout
    try:
        for i, ip in enumerate(ips):
            head = ["--head", f"--port={port}", f"--ray-client-server-port={free_port()}",
                    f"--dashboard-port={free_port()}", "--include-dashboard=false"] if i == 0 else \
                [f"--address={cluster.address}"]
            ports = [f"--{name}-port={free_port()}" for name in ("node-manager", "object-manager", "metrics-export",
                                                                  "dashboard-agent-listen", "dashboard-agent-grpc",
                                                                  "runtime-env-agent")]
            log = folder / f"node-{ip}.log"
            with log.open("ab") as out:
                argv = [*RAY, "start", *head, f"--node-ip-address={ip}", *ports, f"--num-cpus={cpus}",
                        f"--object-store-memory={object_store_bytes}", f"--temp-dir={folder / 'ray'}",
                        "--disable-usage-stats", "--block"]
                proc = subprocess.Popen(processes.tied_to_this_thread(argv, signal.SIGTERM), env=env, cwd=folder,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            cluster.nodes.append(RayNode(ip, proc, log))
            _wait_started(cluster.nodes[-1])
        yield cluster
    finally:
        for node in reversed(cluster.nodes):
            stop_node(node)
        shutil.rmtree(folder, ignore_errors=True)


def stop_node(node: RayNode) -> None:
    """SIGTERM the node's ``ray start --block`` (it stops what it started), then SIGKILL what is left of its
    process group: by pid, never ``ray stop``."""
    if node.proc.poll() is None:
        node.proc.send_signal(signal.SIGTERM)
        try:
            node.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()
    deadline = time.monotonic() + TIMEOUT
    while (left := node.processes()) and time.monotonic() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def _wait_started(node: RayNode) -> None:
    deadline = time.monotonic() + TIMEOUT
    while STARTED not in node.log.read_text(errors="replace"):
        if node.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Ray node on {node.ip} did not start (exit {node.proc.poll()}):\n"
                               f"{node.log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
