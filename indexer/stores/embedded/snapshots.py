"""Snapshots: one file holding a collection's catalog and vector file, consistent while it is in use.

Like Qdrant's snapshots: ``create`` writes ``<data>/snapshots/<collection>/<name>.snapshot``, an
uncompressed tar with ``manifest.json``, ``catalog.sqlite3`` and (when there is one) ``vectors.faiss``.
Snapshots live outside the collection's folder, so deleting a collection keeps them.

Consistency without stopping queries or a running job:
1. open the vector file first: the open descriptor pins that version (``VectorIndex.save`` replaces
   the file by rename, never in place), and its header holds the catalog sequence it reflects;
2. then copy the catalog with SQLite's online backup API in one step (one read transaction: a
   writer committing meanwhile is not seen, and is not blocked).
The catalog is therefore never older than the vectors beside it (the rule ``Collection`` enforces
on open), and the opened collection catches the vectors up from the catalog's change log. If the
vector file was replaced during the copy the pair is taken again, so the log still covers it.

``restore`` never leaves a half-restored collection: the snapshot is unpacked and checked (sha256 of
each file, SQLite ``quick_check``, the recorded sequence) in a hidden folder beside the collection,
which then takes the collection's place in one atomic exchange (``renameat2(RENAME_EXCHANGE)`` on
Linux; elsewhere two renames a moment apart). The old folder is removed afterwards. The caller makes
sure no process has the collection open (the server's API does that for its own registry).
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import struct
import tarfile
import time
from pathlib import Path
from typing import IO, Any

from indexer.errors import BadSnapshot, CollectionNotFound, InvalidInput, SnapshotNotFound
from indexer.names import validate_name
from indexer.stores.embedded.layout import CATALOG_FILE, INDEX_FILE, collection_names, collections_dir
from indexer.stores.embedded.snapshot_manifest import FORMAT, MANIFEST, SnapshotInfo, info_of, read_manifest
from indexer.stores.embedded.space import disk_full_answer
from indexer.stores.embedded.tempfiles import remove_stale_dirs, remove_stale_temp_files, writing
from indexer.stores.embedded.vectors import MAGIC, MAGIC_V1

log = logging.getLogger(__name__)

SUFFIX = ".snapshot"
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.snapshot")
_ATTEMPTS = 5  # times the (vectors, catalog) pair is taken again when a checkpoint replaced the vectors


class EmbeddedSnapshots:
    """The data folder's snapshots, as the store backend offers them (``EmbeddedBackend.snapshots()``,
    the :class:`~indexer.stores.base.Snapshots` capability): the functions below, on one data folder."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)

    def create(self, collection: str) -> SnapshotInfo:
        with disk_full_answer(self.data_dir, "the snapshot"):  # (create_snapshot removes its temp files)
            return create_snapshot(self.data_dir, collection)

    def list(self, collection: str, skipped: list[dict[str, str]] | None = None) -> list[SnapshotInfo]:
        return list_snapshots(self.data_dir, collection, skipped)

    def exists(self, collection: str) -> bool:
        """Whether ``collection`` has a snapshot folder (also once the collection is deleted)."""
        return snapshots_dir(self.data_dir, collection).is_dir()

    def path(self, collection: str, name: str) -> Path:
        return snapshot_path(self.data_dir, collection, name)

    def delete(self, collection: str, name: str) -> None:
        delete_snapshot(self.data_dir, collection, name)

    def restore(self, collection: str, snapshot: Path | str) -> SnapshotInfo:
        with disk_full_answer(self.data_dir, "the restore"):
            return restore_snapshot(self.data_dir, collection, snapshot)


def snapshots_dir(data_dir: Path | str, collection: str) -> Path:
    return Path(data_dir) / "snapshots" / validate_name(collection)


def snapshot_path(data_dir: Path | str, collection: str, name: str) -> Path:
    """The file of snapshot ``name`` of ``collection`` (SnapshotNotFound if there is none)."""
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(f"Snapshot name {name!r} is not allowed: snapshot names end in {SUFFIX!r} and use "
                           "letters, digits, '_', '-' and '.'.", field="snapshot")
    path = snapshots_dir(data_dir, collection) / name
    if not path.is_file():
        raise SnapshotNotFound(collection, name)
    return path


# -- create ---------------------------------------------------------------------------------------------
def create_snapshot(data_dir: Path | str, collection: str) -> SnapshotInfo:
    """Snapshot ``collection`` now (its writers and readers keep going). Works on the files alone, so
    any process can take it; a process holding the collection open should ``checkpoint()`` it first
    so the vector file is recent (less log to replay after a restore)."""
    data_dir = Path(data_dir)
    src = collections_dir(data_dir) / validate_name(collection)
    if not (src / CATALOG_FILE).exists():
        raise CollectionNotFound(collection, collection_names(data_dir))
    out_dir = snapshots_dir(data_dir, collection)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out_dir, own_pid_stale=True)
    stamp = time.time()
    name = f"{collection}-{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(stamp))}-{int(stamp * 1e6) % 10**6:06d}"
    final = out_dir / (name + SUFFIX)
    catalog_tmp = out_dir / f"{name}.catalog.tmp{os.getpid()}"
    tar_tmp = out_dir / f"{name}{SUFFIX}.tmp{os.getpid()}"
    with writing(catalog_tmp, tar_tmp):
        return _create(collection, src, out_dir, stamp, final, catalog_tmp, tar_tmp)


def _create(collection: str, src: Path, out_dir: Path, stamp: float, final: Path, catalog_tmp: Path,
            tar_tmp: Path) -> SnapshotInfo:
    vectors: IO[bytes] | None = None
    try:
        for attempt in range(_ATTEMPTS):
            vectors = _open_or_none(src / INDEX_FILE)  # 1. pin the vector file's current version
            catalog_tmp.unlink(missing_ok=True)
            _backup_catalog(src / CATALOG_FILE, catalog_tmp)  # 2. then the catalog, never older
            if vectors is None or _same_file(vectors, src / INDEX_FILE) or attempt == _ATTEMPTS - 1:
                break  # (the last pair is still valid: at worst a restore rebuilds the vectors from its catalog)
            vectors.close()  # a checkpoint replaced the vectors meanwhile (and may have pruned the log)
        meta = _catalog_meta(catalog_tmp)
        vectors_seq = _vectors_seq(vectors) if vectors is not None else None
        manifest = {
            "format": FORMAT, "collection": collection, "created": stamp, "model": meta["model"],
            "dimension": int(meta["dimension"]), "index_type": meta.get("index_type", "flat"),
            "catalog_seq": int(meta["seq"]), "vectors_seq": vectors_seq, "chunks": int(meta["chunks"]),
            "files": {},
        }
        with open(catalog_tmp, "rb") as f:
            manifest["files"][CATALOG_FILE] = _digest(f)
        if vectors is not None:
            manifest["files"][INDEX_FILE] = _digest(vectors)
        with open(tar_tmp, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                _add(tar, MANIFEST, io.BytesIO(json.dumps(manifest, indent=1).encode()), stamp)
                with open(catalog_tmp, "rb") as f:
                    _add(tar, CATALOG_FILE, f, stamp)
                if vectors is not None:
                    _add(tar, INDEX_FILE, vectors, stamp)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tar_tmp, final)
        _fsync_dir(out_dir)
    finally:
        if vectors is not None:
            vectors.close()
        catalog_tmp.unlink(missing_ok=True)
        catalog_tmp.with_name(catalog_tmp.name + "-journal").unlink(missing_ok=True)
        tar_tmp.unlink(missing_ok=True)
    log.info("snapshot %s of %r: catalog at write %s, vectors at %s", final.name, collection,
             manifest["catalog_seq"], vectors_seq)
    return info_of(final, manifest)


def _open_or_none(path: Path) -> IO[bytes] | None:
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by create_snapshot
    except FileNotFoundError:
        return None  # never checkpointed: the restored collection rebuilds it from the catalog


def _same_file(f: IO[bytes], path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    pinned = os.fstat(f.fileno())
    return (now.st_dev, now.st_ino) == (pinned.st_dev, pinned.st_ino)


def _backup_catalog(src: Path, dst: Path) -> None:
    """SQLite's online backup, in one step: one consistent read of the catalog, writers not blocked."""
    source = sqlite3.connect(str(src), timeout=60)
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
    finally:
        source.close()


def _catalog_meta(path: Path) -> dict[str, Any]:
    """The catalog's meta table, its chunk count and seq, after SQLite's quick_check; BadSnapshot when
    the file is not a readable catalog (not SQLite, damaged, or without the catalog's tables)."""
    try:
        con = sqlite3.connect(str(path))
        try:
            check = con.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BadSnapshot(f"the catalog fails SQLite's quick_check: {check}", field="snapshot")
            meta: dict[str, Any] = dict(con.execute("SELECT key, value FROM meta").fetchall())
            meta["chunks"] = con.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        finally:
            con.close()
        for key in ("model", "dimension", "seq"):
            if key not in meta:
                raise BadSnapshot(f"the catalog records no {key!r}", field="snapshot")
        meta["seq"], meta["dimension"] = int(meta["seq"]), int(meta["dimension"])
    except (sqlite3.DatabaseError, ValueError, TypeError) as e:
        raise BadSnapshot(f"the catalog is not a readable semsearch catalog ({e})", field="snapshot") from e
    return meta


def _vectors_seq(f: IO[bytes]) -> int | None:
    f.seek(0)
    head = f.read(len(MAGIC) + 8)
    if not head.startswith((MAGIC, MAGIC_V1)):
        return None  # damaged: kept as it is; opening the restored collection rebuilds it
    return int(struct.unpack("<Q", head[len(MAGIC) :])[0])


def _digest(f: IO[bytes]) -> dict[str, Any]:
    f.seek(0)
    h = hashlib.sha256()
    size = 0
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
        size += len(block)
    f.seek(0)
    return {"size": size, "sha256": h.hexdigest()}


def _add(tar: tarfile.TarFile, name: str, f: IO[bytes], mtime: float) -> None:
    f.seek(0, os.SEEK_END)
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = f.tell(), int(mtime), 0o600
    f.seek(0)
    tar.addfile(info, f)


# -- list -----------------------------------------------------------------------------------------------
def list_snapshots(data_dir: Path | str, collection: str,
                   skipped: list[dict[str, str]] | None = None) -> list[SnapshotInfo]:
    """The collection's snapshots, newest first. A file that cannot be read as a snapshot (not a tar, no
    manifest, a manifest with missing fields or values of the wrong types) is skipped with a log line and,
    when ``skipped`` is given, named there as ``{"name", "reason"}``: one bad file never hides the others."""
    folder = snapshots_dir(data_dir, collection)
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.iterdir()):
        if not _NAME_RE.fullmatch(path.name) or not path.is_file():
            continue
        try:
            out.append(info_of(path, read_manifest(path)))
        except (BadSnapshot, OSError) as e:
            reason = e.message if isinstance(e, BadSnapshot) else f"{path.name} cannot be read ({e.strerror or e})"
            log.warning("%s: %s", path, reason)
            if skipped is not None:
                skipped.append({"name": path.name, "reason": reason})
    return sorted(out, key=lambda s: s.created, reverse=True)


def delete_snapshot(data_dir: Path | str, collection: str, name: str) -> None:
    snapshot_path(data_dir, collection, name).unlink()


# -- restore --------------------------------------------------------------------------------------------
def restore_snapshot(data_dir: Path | str, collection: str, snapshot: Path | str) -> SnapshotInfo:
    """Make ``collection`` what ``snapshot`` holds (a snapshot name of that collection, or a path to a
    ``.snapshot`` file, e.g. one downloaded from another server). The collection may exist (it is
    replaced whole) or not (it is created). No process may have it open meanwhile."""
    data_dir = Path(data_dir)
    validate_name(collection)
    path = Path(snapshot)
    if not path.is_file():
        path = snapshot_path(data_dir, collection, str(snapshot))
    manifest = read_manifest(path)
    root = collections_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_dirs(root, _STALE_RE, own_pid_stale=True)  # a killed restore's unpack, or the old collection
    staging = root / f".{collection}.restore.tmp{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with writing(staging):
        return _restore(path, manifest, collection, root, staging)


def _restore(path: Path, manifest: dict[str, Any], collection: str, root: Path, staging: Path) -> SnapshotInfo:
    staging.mkdir()
    try:
        _unpack(path, manifest, staging)
        try:
            meta = _catalog_meta(staging / CATALOG_FILE)
        except BadSnapshot as e:
            raise BadSnapshot(f"{path.name}: {e.message}; the collection was left as it was", field="snapshot") from e
        if meta["seq"] != manifest["catalog_seq"]:
            raise BadSnapshot(f"{path.name}: its catalog is at write {meta['seq']}, its manifest says "
                              f"{manifest['catalog_seq']}", field="snapshot")
        _fsync_dir(staging)
        target = root / collection
        if target.exists():
            _exchange(staging, target)  # staging now holds the old collection
        else:
            os.rename(staging, target)
        _fsync_dir(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("restored collection %r from %s (catalog at write %s)", collection, path.name, manifest["catalog_seq"])
    return info_of(path, manifest)


def _unpack(path: Path, manifest: dict[str, Any], into: Path) -> None:
    """Extract exactly the files the manifest lists, checking each one's size and sha256."""
    expected: dict[str, Any] = manifest["files"]
    unknown = set(expected) - {CATALOG_FILE, INDEX_FILE}
    if unknown:
        raise BadSnapshot(f"{path.name} lists unexpected files: {sorted(unknown)}", field="snapshot")
    try:
        _extract(path, expected, into)
    except (tarfile.TarError, EOFError) as e:
        raise BadSnapshot(f"{path.name} cannot be unpacked ({e}); the file is damaged", field="snapshot") from e


def _extract(path: Path, expected: dict[str, Any], into: Path) -> None:
    with tarfile.open(path, mode="r:") as tar:
        for name, want in expected.items():
            try:
                member = tar.getmember(name)
            except KeyError as e:
                raise BadSnapshot(f"{path.name} lacks {name}", field="snapshot") from e
            src = tar.extractfile(member) if member.isfile() else None
            if src is None:
                raise BadSnapshot(f"{path.name}: {name} is not a regular file", field="snapshot")
            h = hashlib.sha256()
            with open(into / name, "wb") as dst:
                for block in iter(lambda s=src: s.read(1 << 20), b""):  # type: ignore[misc]
                    h.update(block)
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            if h.hexdigest() != want["sha256"] or member.size != want["size"]:
                raise BadSnapshot(f"{path.name}: {name} fails its checksum (the snapshot is damaged)",
                                  field="snapshot")


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two directories atomically (Linux ``renameat2``); elsewhere, two renames a moment apart.
    No library offers this: ``os.rename`` cannot replace a non-empty directory."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        renameat2 = None
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        log.info("renameat2 failed (%s); swapping with two renames", os.strerror(ctypes.get_errno()))
    aside = b.with_name(b.name + ".old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


_STALE_RE = re.compile(r"\..+\.restore\.tmp(\d+)")


def remove_leftovers(data_dir: Path | str, collection: str | None = None) -> list[str]:
    """Remove what killed snapshot creates and restores left behind: a create's catalog copy (with its
    SQLite ``-journal``) and half-written tar in ``<data>/snapshots/<collection>/``, a restore's unpacked
    copy (or the old collection it had swapped out) in ``<data>/collections/``; for ``collection``, or for
    every collection. Run when a collection or the store is opened, so a killed operation costs no disk
    past the next open. Files of operations still running (in this or a live process) are kept."""
    data_dir = Path(data_dir)
    removed: list[str] = []
    snaps = data_dir / "snapshots"
    folders = [snaps / collection] if collection is not None else (list(snaps.iterdir()) if snaps.is_dir() else [])
    pattern = _STALE_RE if collection is None else re.compile(re.escape(f".{collection}.restore.tmp") + r"(\d+)")
    try:
        for folder in folders:
            if folder.is_dir():
                removed += remove_stale_temp_files(folder, own_pid_stale=True)
        root = collections_dir(data_dir)
        if root.is_dir():
            removed += remove_stale_dirs(root, pattern, own_pid_stale=True)
    except OSError as e:  # a read-only or vanishing data folder: the leftovers wait for the next open
        log.warning("%s: could not remove snapshot leftovers (%s)", data_dir, e.strerror or e)
    return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
