"""Every read of an indexed file after the walk goes through one descriptor: opened without following a
symlink and without blocking on a FIFO, checked to be a regular file, then hashed and parsed.

The swaps below happen at the worst moment on purpose (from inside the hash, which the old code ran
between its check and its second open by path), so each test hits the race every time."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

import indexer.fulltext as fulltext
from indexer.collection import Collection
from indexer.fulltext import source_text
from indexer.readers import SkipFile, read_document
from indexer.stores.embedded import EmbeddedBackend
from indexer.walk import open_file, open_file_under

TEXT = "Rivers carry water from the hills down to the sea.\n"
SECRET = "OUTSIDE-THE-ROOTS private words\n"


def _in_thread(fn, release: Path | None = None, timeout: float = 10.0):
    """Run ``fn`` in a thread; fail (after unblocking a FIFO reader at ``release``) if it does not return."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # handed back to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if release is not None:  # a writer lets the blocked open() return, so the thread ends
            os.close(os.open(release, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"hung for {timeout} s (blocked opening a FIFO)")
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_open_file_follows_no_symlink_and_never_blocks(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text(TEXT)
    (tmp_path / "secret.txt").write_text(SECRET)
    fd = open_file(root / "sub" / "a.txt")
    with os.fdopen(fd, "rb") as f:
        assert f.read().decode() == TEXT
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(OSError) as e:
        open_file(root / "link.txt")
    assert e.value.errno == errno.ELOOP
    (root / "via").symlink_to(root / "sub")
    with pytest.raises(OSError):  # a symlinked folder on the way is not followed either
        open_file(root / "via" / "a.txt")
    os.mkfifo(root / "pipe.txt")
    with pytest.raises(OSError) as e:
        _in_thread(lambda: open_file(root / "pipe.txt"), release=root / "pipe.txt")
    assert e.value.errno == errno.EINVAL and "not a regular file" in str(e.value)
    assert open_file_under(tmp_path / "secret.txt", [root]) is None  # outside the roots: not opened
    assert open_file_under(root / "link.txt", [root]) is None  # resolved once: its target is outside
    fd = open_file_under(root / "via" / "a.txt", [root])  # resolved once, then opened by its real path
    assert fd is not None
    os.close(fd)


@pytest.fixture
def indexed_file(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rivers.txt").write_text(TEXT)
    (tmp_path / "secret.txt").write_text(SECRET)
    coll = Collection.create(EmbeddedBackend(tmp_path / "data"), "notes", embedder)
    coll.index_folder(docs)
    yield coll, docs, str(docs / "rivers.txt")
    coll.close()


class _SwappingHash:
    """``hashlib`` for ``indexer.fulltext``, whose sha256 runs ``swap`` once: when made, or when read."""

    def __init__(self, swap, *, when: str) -> None:
        self.swap, self.when, self.done = swap, when, False

    def _once(self) -> None:
        if not self.done:
            self.done = True
            self.swap()

    def sha256(self, data: bytes = b""):
        if self.when == "made":
            self._once()
        real, outer = hashlib.sha256(data), self

        class H:
            def update(self, b: bytes) -> None:
                real.update(b)

            def hexdigest(self) -> str:
                if outer.when == "read":
                    outer._once()
                return real.hexdigest()

        return H()


def test_a_symlink_swapped_in_after_the_hash_never_leaks(indexed_file, tmp_path, monkeypatch):
    coll, docs, key = indexed_file
    assert source_text(coll, key, readable_roots=[docs]).origin == "disk"

    def to_symlink() -> None:
        os.unlink(key)
        os.symlink(tmp_path / "secret.txt", key)

    monkeypatch.setattr(fulltext, "hashlib", _SwappingHash(to_symlink, when="read"))
    got = source_text(coll, key, readable_roots=[docs])
    assert "OUTSIDE-THE-ROOTS" not in got.text and got.text == TEXT  # the bytes hashed are the bytes shown


def test_a_fifo_swapped_in_never_hangs_the_request(indexed_file, monkeypatch):
    coll, docs, key = indexed_file

    def to_fifo() -> None:
        os.unlink(key)
        os.mkfifo(key)

    monkeypatch.setattr(fulltext, "hashlib", _SwappingHash(to_fifo, when="made"))
    got = _in_thread(lambda: source_text(coll, key, readable_roots=[docs]), release=Path(key))
    assert got.text == TEXT
    got = _in_thread(lambda: source_text(coll, key, readable_roots=[docs]), release=Path(key))  # a FIFO now
    assert got.origin == "chunks" and got.stale and got.text.strip() == TEXT.strip()


def test_read_document_checks_and_reads_one_descriptor(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    path.write_text(TEXT)
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(SkipFile, match="not a regular file"):
        _in_thread(lambda: read_document(tmp_path / "pipe.txt", max_bytes=1000), release=tmp_path / "pipe.txt")
    real_stat, swapped = os.stat, []

    def stat_then_swap(p, *args, **kwargs):  # a FIFO put in place right after a stat of the path
        st = real_stat(p, *args, **kwargs)
        if str(p) == str(path) and not swapped:
            swapped.append(True)
            path.unlink()
            os.mkfifo(path)
        return st

    monkeypatch.setattr(os, "stat", stat_then_swap)
    try:  # checked and read on one descriptor: the file as it was, or a FIFO refused; never a hang
        assert _in_thread(lambda: read_document(path, max_bytes=1000), release=path).text == TEXT
    except SkipFile as e:
        assert "not a regular file" in e.detail
    monkeypatch.undo()
    path.unlink()
    path.write_text(TEXT)
    assert read_document(path, max_bytes=1000).text == TEXT
