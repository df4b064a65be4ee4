"""The folder walk (indexer/walk.py): it cannot be raced out of its root, follows symlinks only inside
it, keeps hard links (documented), and opens every file relative to its verified parent."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from indexer.errors import PathNotAllowed
from indexer.sync import read_candidate
from indexer.walk import Candidate, PinnedRoot, Skipped, open_folder, walk

SECRET = b"OUTSIDESECRET"


def make_tree(tmp_path: Path, n: int = 60) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    for i in range(n):
        (root / "sub" / f"f{i:03d}.txt").write_text(f"inside note {i}")
        (outside / f"f{i:03d}.txt").write_bytes(SECRET + b" %d" % i)
    return root, outside


class Swapper(threading.Thread):
    """Swaps ``root/sub`` for a symlink to ``outside`` and back, as fast as it can, until stopped."""

    def __init__(self, root: Path, outside: Path) -> None:
        super().__init__(daemon=True)
        self.sub, self.away, self.outside = root / "sub", root / ".sub-away", outside
        self.stop = threading.Event()
        self.swaps = 0

    def run(self) -> None:
        while not self.stop.is_set():
            os.rename(self.sub, self.away)
            os.symlink(self.outside, self.sub)
            self.swaps += 1
            os.unlink(self.sub)
            os.rename(self.away, self.sub)
            time.sleep(0.0005)  # leave the real folder in place for a moment too, so the walk gets into it

    def __enter__(self) -> Swapper:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join()


def read_everything(root: Path) -> tuple[int, int]:
    """(files read, files read whose bytes came from outside the root)."""
    read = outside = 0
    for item in walk(root, max_bytes=1 << 20):
        if isinstance(item, Candidate):
            try:
                data = read_candidate(item, 1 << 20)
            except OSError:
                continue
            read += 1
            outside += SECRET in data
    return read, outside


def test_swapping_a_subfolder_for_a_symlink_while_walking_reads_nothing_outside(tmp_path):
    root, outside = make_tree(tmp_path)
    total_read = total_outside = 0
    rounds = 0
    with Swapper(root, outside) as swapper:
        while (swapper.swaps < 200 or rounds < 20) and rounds < 5000:
            read, out = read_everything(root)
            total_read, total_outside, rounds = total_read + read, total_outside + out, rounds + 1
    assert swapper.swaps >= 200 and total_read > 0  # the race really ran while files were being read
    assert total_outside == 0


def test_symlinks_are_followed_inside_the_root_only(tmp_path):
    root, outside = make_tree(tmp_path, n=2)
    (root / "inner-link").symlink_to(root / "sub")
    (root / "file-link.txt").symlink_to(root / "sub" / "f000.txt")
    (root / "out-link").symlink_to(outside)
    (root / "out-file.txt").symlink_to(outside / "f000.txt")
    items, data = {}, {}
    for item in walk(root, max_bytes=1 << 20):  # a Candidate opens only while the walk stands on it
        rel = Path(item.path).relative_to(root).as_posix()
        items[rel] = item
        if isinstance(item, Candidate):
            data[rel] = read_candidate(item, 100)
    assert data["inner-link/f001.txt"] == b"inside note 1" and data["file-link.txt"] == b"inside note 0"
    for name in ("out-link", "out-file.txt"):
        assert isinstance(items[name], Skipped) and items[name].reason == "symlink_outside"


def test_a_hard_link_inside_the_root_is_indexed_like_any_file(tmp_path):
    """Decided: a hard link is a name of the file in this folder (see indexer/walk.py for why)."""
    root, outside = make_tree(tmp_path, n=1)
    os.link(outside / "f000.txt", root / "linked.txt")
    data = {Path(i.path).name: read_candidate(i, 100) for i in walk(root, max_bytes=1 << 20)
            if isinstance(i, Candidate)}
    assert SECRET in data["linked.txt"]


def test_a_folder_path_through_a_symlink_is_not_opened(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError) as e:
        open_folder(tmp_path / "link")
    assert e.value.errno in (errno.ELOOP, errno.ENOTDIR)
    os.close(open_folder(tmp_path / "real"))


def test_a_pinned_root_refuses_to_follow_a_repointed_symlink(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "a")
    pinned = PinnedRoot.pin(tmp_path / "root")
    pinned.check()
    assert pinned.real == (tmp_path / "a").resolve()
    (tmp_path / "root").unlink()
    (tmp_path / "root").symlink_to(tmp_path / "b")
    with pytest.raises(PathNotAllowed, match="now leads to"):
        pinned.check()
    (tmp_path / "root").unlink()
    (tmp_path / "root").symlink_to(tmp_path / "a")
    os.rename(tmp_path / "a", tmp_path / "a-old")
    (tmp_path / "a").mkdir()  # same path, another folder
    with pytest.raises(PathNotAllowed, match="replaced"):
        pinned.check()
