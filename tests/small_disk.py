"""A small, full disk for the disk-full tests: a size-limited tmpfs (root only: mounting needs it) and
a filler file that takes every free byte of it."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: mark a test module that needs it (a test without root is skipped, saying why)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs needs root")


@contextmanager
def small_disk(mountpoint: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``mountpoint`` (created), unmounted after; skips if it cannot be."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path) -> None:
    """Take every free byte of ``disk`` (a growing file ``disk/filler``; delete it to free the space)."""
    with open(disk / "filler", "ab", buffering=0) as f:
        for size in (4096, 512, 64, 1):  # whole pages, then the tail of the last one
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno in (errno.ENOSPC, errno.EDQUOT), e
                    break
