"""The converted OpenVINO graph kept on disk between runs, so a later load skips torch, transformers
and sentence-transformers (and the conversion)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: bump when :meth:`OpenVinoModel.convert` builds a different graph: cached graphs of the old one are ignored
GRAPH_FORMAT = 1


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def model_files(path: Path) -> list[tuple[str, int, int]]:
    """(relative name, size, modification time in ns) of every file of a model folder: what changes when
    its weights or configuration are replaced, read without opening them (hashing ~90 MB of weights at
    every start would cost more than most commands)."""
    stats = sorted((str(f.relative_to(path)), f.stat()) for f in path.rglob("*") if f.is_file())
    return [(name, st.st_size, st.st_mtime_ns) for name, st in stats]


def library_versions() -> list[str]:
    """The versions of the libraries that turn the model's weights into vectors."""
    return [_version(d) for d in ("openvino", "torch", "transformers", "sentence-transformers")]


class GraphCache:
    """One model's OpenVINO graph on disk, with what a load needs without torch or sentence-transformers:
    the dimension, the token window, and the fp32 ``SentenceTransformer.encode`` vectors of the
    self-check's probe texts (the loaded graph is checked against them, as a fresh one is against
    the model).

    The entry's name is a hash of the model folder's files (path, size, modification time), the
    versions of the libraries that convert it and :data:`GRAPH_FORMAT`: a changed model or upgrade
    converts afresh. An entry is written to a temporary folder and renamed into place, so a reader
    never sees half of one; an entry that fails to load or to pass the check is removed."""

    def __init__(self, root: Path, path: Path, *, variant: tuple[str, Path] | None = None) -> None:
        """``variant``: (name, calibration file) for a graph derived from the fp32 one - the int8 graph -
        whose key also holds NNCF's version and the calibration file's hash."""
        desc: dict[str, Any] = {"format": GRAPH_FORMAT, "model": str(path.resolve()), "files": model_files(path),
                                "versions": library_versions()}
        if variant is not None:
            desc["variant"] = [variant[0], _version("nncf"), hashlib.sha256(variant[1].read_bytes()).hexdigest()]
        key = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:32]
        self.dir = root / "openvino" / key

    def load(self) -> tuple[Any, dict[str, Any]] | None:
        """(graph, metadata), or None when there is no complete entry."""
        if not (self.dir / "meta.json").is_file():
            if self.dir.exists():  # not one this class wrote (they appear whole): clear the way for one
                self.remove()
            return None
        try:
            import openvino as ov

            meta = json.loads((self.dir / "meta.json").read_text())
            return ov.Core().read_model(str(self.dir / "model.xml")), meta
        except Exception as e:  # noqa: BLE001 - unreadable entry: convert again
            log.warning("cached model graph %s unreadable (%s); converting the model again", self.dir, e)
            self.remove()
            return None

    def save(self, graph: Any, meta: dict[str, Any]) -> None:
        """Write the entry; a cache that cannot be written only costs the next load a conversion."""
        try:
            import openvino as ov

            self.dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.dir.parent))
            try:
                ov.save_model(graph, str(tmp / "model.xml"), compress_to_fp16=False)
                (tmp / "meta.json").write_text(json.dumps(meta))
                os.replace(tmp, self.dir)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename; the leftovers of a failure
        except Exception as e:  # noqa: BLE001 - includes another process having written it first
            if not (self.dir / "meta.json").is_file():
                log.warning("model graph not cached in %s (%s): the next load converts it again "
                            "(model_cache off turns the cache off)", self.dir.parent, e)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
