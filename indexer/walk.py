"""Folder -> files to index: a walk that cannot be raced out of its folder, with clear skips.

The walk never fails on a file: hidden entries, symlinks that leave the folder, symlink loops,
oversized, unreadable and unsupported files are yielded as :class:`Skipped` with a reason, so the
caller can report them.

Why file descriptors: checking a path and then opening it by name is a race. Someone who can write
inside the folder can swap a checked subfolder for a symlink to ``/etc`` between the check and the
open. So the walk opens the root once, component by component without following symlinks
(``O_NOFOLLOW``), and every folder below it relative to its already-open parent
(``os.open(name, O_DIRECTORY | O_NOFOLLOW, dir_fd=parent)``); it lists folders with
``os.scandir(fd)``. A :class:`Candidate` opens its file the same way, relative to the open parent,
and the caller reads from that descriptor and checks it with ``fstat`` - nothing is opened again
by path. A symlink is followed only when its target lies inside the root, and then the target is
opened from the root's descriptor, again component by component with ``O_NOFOLLOW``.

Hard links: a hard link inside the folder *is* a file of that folder - the kernel gives no way
to tell it from the original name, and making one needs write access to the folder plus (with
Linux's default ``fs.protected_hardlinks=1``) ownership of the file or read and write access to
it. So a hard link only lets someone index a file they could already read and copy into the
folder; it is indexed like any other file. (Refusing ``st_nlink > 1`` would skip legitimate files:
deduplicated backups, package stores, ``git`` object links.)

File names that are not valid UTF-8 (``os.fsdecode`` gives surrogates for the bad bytes) cannot be
stored as SQLite text; such a file is keyed by its name with each bad byte written as ``\\xNN``
(see :func:`path_key`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer import readers
from indexer.errors import InvalidInput, PathNotAllowed

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class Skipped:
    path: str
    # hidden | symlink_outside | symlink_loop | too_large | binary | unreadable | unsupported | empty | over_limit
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Candidate:
    """A regular file to index. ``open()`` works only until the walk moves on (it needs the open parent)."""

    path: Path  # absolute, inside the root (through the link if it is a symlink)
    size: int
    mtime: float
    key: str = ""  # how the catalog names it: str(path), or its escaped form (path_key)
    dir_fd: int = field(default=-1, repr=False, compare=False)
    name: str = field(default="", repr=False, compare=False)

    def open(self) -> int:
        """A read-only descriptor of the file, opened relative to its verified parent without following
        a symlink. Raises OSError (ELOOP if the name became a symlink, ENOENT if it is gone)."""
        if self.dir_fd < 0:
            return os.open(self.path, _FILE_FLAGS)
        return os.open(self.name, _FILE_FLAGS, dir_fd=self.dir_fd)


def path_key(path: str | Path) -> str:
    """The catalog key of ``path``: the path itself, or - when the name holds bytes that are not UTF-8
    (surrogates after ``os.fsdecode``) - the name with each such byte written as ``\\xNN``.
    ``key_bytes`` maps a key back to the exact bytes."""
    s = str(path)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(s).decode("utf-8", "backslashreplace")
    return s


def key_bytes(key: str) -> bytes:
    """The file name bytes a key stands for: the inverse of :func:`path_key`. A key that names an
    existing path is that path; otherwise each ``\\xNN`` is the byte it escapes."""
    if "\\x" not in key or os.path.lexists(key):
        return os.fsencode(key)
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), key.encode("utf-8"))


def is_supported(path: Path) -> bool:
    # By name only binary formats without a reader are refused; the reader sniffs the rest by content.
    return readers.is_supported(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def open_folder(path: str | Path, *, start_fd: int | None = None) -> int:
    """Open the folder ``path`` (absolute, or relative to ``start_fd``) one component at a time,
    following no symlink. Raises OSError: ELOOP or ENOTDIR when a component is a symlink or a file."""
    parts = [p for p in str(path).split(os.sep) if p and p != "."]
    fd = os.open("/", _DIR_FLAGS) if start_fd is None else os.dup(start_fd)
    try:
        for part in parts:
            if part == "..":
                raise OSError(errno.EACCES, "'..' is not followed", str(path))
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path: str | Path) -> int:
    """A read-only descriptor of the regular file at the absolute path ``path``, opened one component at a
    time following no symlink (``O_NOFOLLOW``) and without blocking (``O_NONBLOCK``: a FIFO swapped in
    opens at once instead of waiting for a writer), checked with ``fstat`` on that descriptor.

    Raises OSError: ELOOP or ENOTDIR when a component is (or became) a symlink or a file, EINVAL when the
    file is not a regular file. Hash and parse what is read from the descriptor: it is the checked file."""
    parent, base = os.path.split(str(path))
    if not os.path.isabs(str(path)) or not base or base in (".", ".."):
        raise OSError(errno.EINVAL, "not an absolute path to a file", str(path))
    dir_fd = open_folder(parent)
    try:
        fd = os.open(base, _FILE_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a folder, device, FIFO or socket)", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file_under(path: str | Path, roots: Sequence[Path]) -> int | None:
    """``open_file`` of ``path`` resolved once (its real path), or None when that real path lies outside
    every one of ``roots`` (real paths). The file is then opened by that real path, component by
    component without following a symlink, so a name swapped for a symlink between the check and the
    open fails (ELOOP) instead of leading outside the roots."""
    real = os.path.realpath(path)
    if not any(_inside(real, str(r)) for r in roots):
        return None
    return open_file(real)


def open_root(root: Path, real: str) -> int:
    """The root folder's descriptor, opened through its real path ``real`` following no symlink."""
    try:
        return open_folder(real)
    except OSError as e:
        why = "it changed while being opened (a symlink replaced a folder)" if e.errno in (
            errno.ELOOP, errno.ENOTDIR) else (e.strerror or str(e))
        raise InvalidInput(f"{root} cannot be opened as a folder: {why}", field="path") from e


@dataclass
class _Folder:
    fd: int
    path: Path  # as shown to the user (under the root as given)
    ancestors: frozenset[tuple[int, int]]  # (st_dev, st_ino) of the folders on this descent
    # subfolders still to walk: (shown path, name relative to this folder, or path relative to the root)
    subfolders: list[tuple[Path, str, bool]] = field(default_factory=list)


def walk(root: Path, *, max_bytes: int) -> Iterator[Candidate | Skipped]:
    """Every file under ``root`` (sorted, depth first) as a Candidate, or a Skipped with its reason.

    Open descriptors: one per folder on the current descent (plus one for a symlinked file's parent)."""
    root = Path(root).absolute()
    real_root = os.path.realpath(root)
    root_fd = open_root(root, real_root)
    st = os.fstat(root_fd)
    stack = [_Folder(root_fd, root, frozenset({(st.st_dev, st.st_ino)}))]
    try:
        yield from _list(stack[0], root_fd, real_root, max_bytes)
        while stack:
            top = stack[-1]
            if not top.subfolders:
                stack.pop()
                if top.fd != root_fd:
                    os.close(top.fd)
                continue
            path, rel, from_root = top.subfolders.pop(0)
            try:
                fd = open_folder(rel, start_fd=root_fd if from_root else top.fd)
            except OSError as e:
                yield Skipped(path_key(path), "unreadable", why_unreadable(e))
                continue
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in top.ancestors:
                os.close(fd)
                yield Skipped(path_key(path), "symlink_loop", "points back to a folder above it")
                continue
            folder = _Folder(fd, path, top.ancestors | {(st.st_dev, st.st_ino)})
            stack.append(folder)
            yield from _list(folder, root_fd, real_root, max_bytes)
    finally:
        for f in stack:
            if f.fd != root_fd:
                os.close(f.fd)
        os.close(root_fd)


def _list(folder: _Folder, root_fd: int, real_root: str, max_bytes: int) -> Iterator[Candidate | Skipped]:
    """Yield ``folder``'s files and note its subfolders (on ``folder.subfolders``, walked next)."""
    try:
        with os.scandir(folder.fd) as it:
            names = sorted(e.name for e in it)
    except OSError as e:
        yield Skipped(path_key(folder.path), "unreadable", e.strerror or str(e))
        return
    for name in names:
        path = folder.path / name
        shown = path_key(path)
        if name.startswith("."):
            yield Skipped(shown, "hidden", "hidden files and folders are not indexed")
            continue
        if shown != str(path) and os.path.lexists(shown):
            yield Skipped(shown, "unreadable", "the file name is not valid UTF-8 and its escaped form names "
                                               "another file")
            continue
        try:
            item = _entry(folder, name, path, shown, root_fd, real_root, max_bytes)
        except OSError as e:
            item = Skipped(shown, "unreadable", why_unreadable(e))
        if isinstance(item, tuple):
            folder.subfolders.append((path, *item))
        elif isinstance(item, Candidate) and item.dir_fd != folder.fd:
            try:  # a symlinked file: its parent was opened just for it
                yield item
            finally:
                os.close(item.dir_fd)
        else:
            yield item


def why_unreadable(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "it was replaced by a symlink while being read"
    if e.errno == errno.ENOTDIR:
        return "it was replaced by a file while being read"
    return e.strerror or str(e)


def _entry(folder: _Folder, name: str, path: Path, shown: str, root_fd: int, real_root: str,
           max_bytes: int) -> Candidate | Skipped | tuple[str, bool]:
    """One directory entry: a Candidate, a Skipped, or a folder to walk as (name or root-relative path,
    relative to the root?)."""
    st = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        return (name, False)
    if not stat.S_ISLNK(st.st_mode):
        return _file_skip(path, st, max_bytes, shown) or Candidate(
            path, st.st_size, st.st_mtime, key=shown, dir_fd=folder.fd, name=name)
    real = os.path.realpath(path)
    if not os.path.exists(real):
        return Skipped(shown, "unreadable", "broken symlink")
    if not _inside(real, real_root):
        return Skipped(shown, "symlink_outside", f"points to {path_key(real)}, outside {path_key(real_root)}")
    rel = os.path.relpath(real, real_root)
    if os.path.isdir(real):  # walked from the root's descriptor, following nothing (loops caught there)
        return (rel, True)
    parent, base = os.path.split(rel)
    dir_fd = open_folder(parent, start_fd=root_fd)
    try:
        st = os.stat(base, dir_fd=dir_fd, follow_symlinks=False)
        skip = _file_skip(path, st, max_bytes, shown)
    except OSError:
        os.close(dir_fd)
        raise
    if skip is not None:
        os.close(dir_fd)
        return skip
    return Candidate(path, st.st_size, st.st_mtime, key=shown, dir_fd=dir_fd, name=base)


def _file_skip(path: Path, st: os.stat_result, max_bytes: int, shown: str) -> Skipped | None:
    if not stat.S_ISREG(st.st_mode):
        return Skipped(shown, "unsupported", "not a regular file")
    if not is_supported(path):
        return Skipped(shown, "unsupported", readers.unsupported_detail(Path(path_key(path))))
    if st.st_size > max_bytes:
        return Skipped(shown, "too_large",
                       f"{st.st_size:,} bytes is over the {max_bytes:,} byte limit (SEMSEARCH_MAX_FILE_BYTES)")
    return None


@dataclass(frozen=True)
class PinnedRoot:
    """An allowed root, resolved once (at start-up) and held to that folder: ``configured`` as given,
    ``real`` its real path then, and the folder's identity (device, inode). A root whose path later
    leads elsewhere (a re-pointed symlink) or whose folder was replaced is refused, not followed."""

    configured: Path
    real: Path
    identity: tuple[int, int] | None  # None: the folder did not exist when pinned

    @classmethod
    def pin(cls, configured: Path) -> PinnedRoot:
        configured = Path(configured).expanduser().absolute()
        real = Path(os.path.realpath(configured))
        try:
            st = os.stat(real)
        except OSError:
            return cls(configured, real, None)
        return cls(configured, real, (st.st_dev, st.st_ino))

    def check(self) -> None:
        """Raise PathNotAllowed if the root no longer is the folder pinned at start-up."""
        now = Path(os.path.realpath(self.configured))
        if now != self.real:
            raise PathNotAllowed(
                f"The allowed root {path_key(self.configured)} now leads to {path_key(now)}, not to "
                f"{path_key(self.real)} as when the server started; it is refused until the server is restarted "
                "(SEMSEARCH_ALLOWED_ROOTS).", field="path")
        if self.identity is None:
            return
        try:
            fd = open_folder(self.real)
        except OSError as e:
            raise PathNotAllowed(f"The allowed root {path_key(self.real)} cannot be opened as the folder pinned "
                                 f"at start-up ({why_unreadable(e)}).", field="path") from e
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if (st.st_dev, st.st_ino) != self.identity:
            raise PathNotAllowed(f"The allowed root {path_key(self.real)} was replaced by another folder since the "
                                 "server started; it is refused until the server is restarted.", field="path")

    def holds(self, path: Path) -> bool:
        return path == self.real or path.is_relative_to(self.real)


def read_candidate(cand: Candidate, max_bytes: int) -> bytes:
    """The file's bytes (at most ``max_bytes`` + 1), read from a descriptor opened relative to its
    verified parent folder; ``fstat`` on that descriptor confirms it is still a regular file."""
    fd = cand.open()
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise readers.SkipFile("unreadable", "it is no longer a regular file")
        return f.read(max_bytes + 1)
