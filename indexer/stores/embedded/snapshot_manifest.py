"""A snapshot's ``manifest.json``: what it records (:class:`SnapshotInfo`) and the check of every field
before a snapshot is listed or restored, so a damaged or hand-edited file is named and skipped (listing)
or refused with ``bad_snapshot`` (restore) instead of failing later with a TypeError."""

from __future__ import annotations

import json
import math
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import BadSnapshot
from indexer.stores.embedded.layout import CATALOG_FILE, INDEX_FILE

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass
class SnapshotInfo:
    name: str
    collection: str
    created: float
    size_bytes: int
    catalog_seq: int
    vectors_seq: int | None
    chunks: int
    model: str
    dimension: int
    index_type: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the snapshot file ``path``, checked field by field (BadSnapshot if it is not one)."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
    except (tarfile.TarError, KeyError, ValueError, OSError, EOFError) as e:
        raise BadSnapshot(f"{path.name} is not a semsearch snapshot (no readable {MANIFEST}: {e})",
                          field="snapshot") from e
    if not isinstance(manifest, dict):
        raise BadSnapshot(f"{path.name}: its {MANIFEST} is not a JSON object", field="snapshot")
    if manifest.get("format") != FORMAT:
        raise BadSnapshot(f"{path.name} has snapshot format {manifest.get('format')!r}; this version reads "
                          f"format {FORMAT}", field="snapshot")
    _check_manifest(path.name, manifest)
    return manifest


# The manifest's fields and their JSON types: a file of another version, or one edited by hand, is refused
# by name and field here rather than failing somewhere later with a TypeError.
_FIELDS: dict[str, tuple[type, ...]] = {
    "collection": (str,), "created": (int, float), "model": (str,), "dimension": (int,), "index_type": (str,),
    "catalog_seq": (int,), "vectors_seq": (int, type(None)), "chunks": (int,), "files": (dict,),
}
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _check_manifest(name: str, m: dict[str, Any]) -> None:
    def bad(why: str) -> BadSnapshot:
        return BadSnapshot(f"{name}: its {MANIFEST} {why}; the file is damaged or not a snapshot of this "
                           "version (take a new snapshot, or restore another one)", field="snapshot")

    for key, types in _FIELDS.items():
        value = m.get(key)
        if key not in m or isinstance(value, bool) or not isinstance(value, types):
            kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise bad(f"has {key!r} = {value!r}, not {'an' if kinds[0] in 'aeiou' else 'a'} {kinds}")
    if not math.isfinite(m["created"]):  # JSON from Python may hold NaN or Infinity, which no answer can carry
        raise bad(f"has 'created' = {m['created']!r}, not a time")
    files = m["files"]
    if CATALOG_FILE not in files:
        raise bad(f"does not list {CATALOG_FILE}")
    for file, want in files.items():
        if file not in (CATALOG_FILE, INDEX_FILE):
            raise bad(f"lists an unexpected file {file!r}")
        if not isinstance(want, dict) or isinstance(want.get("size"), bool) or not isinstance(want.get("size"), int) \
                or not isinstance(want.get("sha256"), str) or not _SHA256_RE.fullmatch(want["sha256"]):
            raise bad(f"has no valid size and sha256 for {file} in 'files'")


def info_of(path: Path, m: dict[str, Any]) -> SnapshotInfo:
    return SnapshotInfo(path.name, m["collection"], float(m["created"]), path.stat().st_size, m["catalog_seq"],
                        m["vectors_seq"], m["chunks"], m["model"], m["dimension"], m["index_type"])
