"""The processes running on this machine and their TCP connections, as /proc tells them (Linux): for harnesses
that stop servers by pid and check that nothing of them is left (tests/postgres_server.py, tests/ray_cluster.py),
and for tests that check where a cluster's traffic goes."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int  #: its parent's pid
    pgid: int  #: its process group's id


def running() -> dict[int, Process]:
    """Every running process by pid (a zombie, waiting to be reaped, has ended)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "PID (COMMAND)", which may hold spaces
        except OSError:  # it ended meanwhile
            continue
        if fields[0] not in ("Z", "X"):
            pid = int(stat.parent.name)
            found[pid] = Process(pid, int(fields[1]), int(fields[2]))
    return found


def tied_to_this_thread(argv: list[str], sig: signal.Signals) -> list[str]:
    """``argv`` made to receive ``sig`` from the kernel when the thread that starts it ends: a test run that is
    killed (SIGKILL, or SIGTERM from `timeout`, which skips atexit) then leaves no server behind. util-linux's
    ``setpriv --pdeathsig`` sets that and execs ``argv`` (same pid). Not Popen's preexec_fn: Python code
    between fork and exec in a process with threads (torch's, Ray's) may deadlock. Without setpriv: as is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--pdeathsig={sig.name.removeprefix('SIG')}", "--", *argv] if setpriv else argv


@dataclass(frozen=True)
class Connection:
    """A TCP socket: its two ends (the remote one 0.0.0.0 or :: while it listens) and its state."""

    local: ipaddress.IPv4Address | ipaddress.IPv6Address
    remote: ipaddress.IPv4Address | ipaddress.IPv6Address
    state: str  #: LISTEN, ESTABLISHED, ...

    def on_loopback(self) -> bool:
        """Both ends on a loopback address (127.0.0.0/8, ::1, or 127.x mapped into IPv6)."""
        return all(_loopback(end) for end in (self.local, self.remote))


#: The states of /proc/net/tcp, by their number.
TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
              7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}


def tcp_connections(pids: Iterable[int]) -> list[Connection]:
    """The TCP sockets (IPv4 and IPv6) that processes ``pids`` hold open (those of this network namespace)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:["):-1])
        except OSError:  # it ended, or a descriptor closed meanwhile
            continue
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path("/proc/net", table).read_text().splitlines()[1:]:
            fields = line.split()  # sl local_address rem_address st ... inode (the 10th)
            if fields[9] in inodes:
                found.append(Connection(_address(fields[1]), _address(fields[2]), TCP_STATES[int(fields[3], 16)]))
    return found


def _address(hexed: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address of /proc/net/tcp ("0100007F:1F90": the host's byte order, 32 bits at a time), without port."""
    raw = bytes.fromhex(hexed.split(":")[0])
    return ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))


def _loopback(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
