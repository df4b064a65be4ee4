"""Duplicates within a collection (indexer/sync/copies.py, SourceWrite.copy_of): a file whose content another
indexed file has is stored once and listed under every path. Real model, real SQLite and FAISS; the same
behaviour through every store is in tests/indexer/stores/test_contract.py."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from indexer.collection import Collection, Limits
from indexer.search import Filters
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.test_sync import CountingEmbed

LICENSE = ("The GNU General Public License is a free, copyleft license for software and other kinds of works. "
           "It guarantees your freedom to share and change all versions of a program.\n")
OTHER = "Penguins huddle together through the antarctic winter to keep warm.\n"


def license_folder(root: Path) -> Path:
    """a/LICENSE (a copy), b/COPYING and b/GPL (symlinks to z/GPL-3), z/GPL-3, other.txt."""
    for d in ("a", "b", "z"):
        (root / d).mkdir(parents=True)
    (root / "z" / "GPL-3").write_text(LICENSE)
    (root / "a" / "LICENSE").write_text(LICENSE)
    os.symlink("../z/GPL-3", root / "b" / "COPYING")
    os.symlink(root / "z" / "GPL-3", root / "b" / "GPL")
    (root / "other.txt").write_text(OTHER)
    return root


def license_hits(coll: Collection, **kw):
    return [h for h in coll.search("freedom to share and change a program", k=10, **kw) if "Penguins" not in h.snippet]


def test_two_symlinks_and_a_copy_of_a_license_give_one_hit_with_its_other_paths(tmp_path, embedder, monkeypatch):
    root = license_folder(tmp_path / "lic")
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "dupes", embedder) as c:
        counting = CountingEmbed(c.embedder, monkeypatch)
        report = c.index_folder(root)
        assert (report.added, report.copies, report.to_dict()["files"]["copies"]) == (5, 3, 3)
        assert counting.texts == 2  # one license chunk, one penguin chunk
        rows, total = c.list_sources(kind="file")
        assert total == 5
        by_key = {Path(r.key).relative_to(root).as_posix(): r for r in rows}
        assert by_key["a/LICENSE"].chunks == 1 and by_key["a/LICENSE"].copy_of == ""
        for copy in ("b/COPYING", "b/GPL", "z/GPL-3"):
            assert (by_key[copy].chunks, by_key[copy].copy_of) == (0, str(root / "a/LICENSE"))

        hits = license_hits(c)
        assert len(hits) == 1
        assert hits[0].path == str(root / "a/LICENSE") and hits[0].copies == 3
        assert hits[0].also_at == [str(root / p) for p in ("b/COPYING", "b/GPL", "z/GPL-3")]
        # The other paths stay filterable: a glob or an extension only a copy has finds the content.
        assert [h.path for h in license_hits(c, filters=Filters(path_glob="z/*"))] == [str(root / "a/LICENSE")]
        assert license_hits(c, filters=Filters(path_glob="nowhere/*")) == []
        # Like a copy's path: the neighbours of its content (the content itself left out, as for any like).
        assert [h.path for h in c.search(like=str(root / "b/GPL"), k=5)] == [str(root / "other.txt")]

        # Unchanged: nothing is read or embedded again.
        counting.texts = 0
        again = c.index_folder(root)
        assert (again.unchanged, again.added, again.copies, counting.texts) == (5, 0, 0, 0)

        # Deleting the canonical path keeps the content under the first remaining path.
        (root / "a" / "LICENSE").unlink()
        gone = c.index_folder(root)
        assert (gone.removed, gone.chunks_embedded, counting.texts) == (1, 0, 0)
        hits = license_hits(c)
        assert len(hits) == 1 and hits[0].path == str(root / "b/COPYING")
        assert hits[0].also_at == [str(root / "b/GPL"), str(root / "z/GPL-3")]
        assert c.store.count_chunks() == 2


def test_a_changed_canonical_leaves_its_old_content_with_a_copy(tmp_path, embedder):
    root = tmp_path / "two"
    root.mkdir()
    (root / "a.txt").write_text(LICENSE)
    (root / "b.txt").write_text(LICENSE)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "dupes", embedder, limits=Limits(batch_chunks=4)) as c:
        assert c.index_folder(root).copies == 1
        (root / "a.txt").write_text(OTHER)
        report = c.index_folder(root)
        assert (report.updated, report.unchanged, report.chunks_embedded) == (1, 1, 1)
        old = license_hits(c)
        assert [(h.path, h.copies) for h in old] == [(str(root / "b.txt"), 0)]
        new = c.search("penguins in winter", k=1).hits[0]
        assert new.path == str(root / "a.txt") and new.also_at == []
        # ... and a copy of the new content made in the same run points at the file embedded in that run.
        (root / "c.txt").write_text(OTHER)
        assert c.index_folder(root).copies == 1
        assert c.search("penguins in winter", k=1).hits[0].also_at == [str(root / "c.txt")]


def test_a_collection_made_before_copies_is_upgraded_in_place(tmp_path, embedder):
    root = tmp_path / "old"
    root.mkdir()
    (root / "a.txt").write_text(LICENSE)
    data = tmp_path / "data"
    with Collection.open(EmbeddedBackend(data), "old", embedder) as c:
        c.index_folder(root)
    catalog = data / "collections" / "old" / "catalog.sqlite3"
    con = sqlite3.connect(catalog)
    con.execute("DROP INDEX sources_by_copy")
    con.execute("DROP INDEX sources_by_sha")
    con.execute("ALTER TABLE sources DROP COLUMN same_as")
    con.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    con.commit()
    con.close()
    (root / "b.txt").write_text(LICENSE)
    with Collection.open(EmbeddedBackend(data), "old", embedder) as c:
        report = c.index_folder(root)
        assert (report.unchanged, report.copies) == (1, 1)
        assert license_hits(c)[0].also_at == [str(root / "b.txt")]


def test_a_renamed_file_is_not_embedded_again(tmp_path, embedder, monkeypatch):
    """The new path is a copy of the old one (still stored); removing the old path hands it the chunks."""
    root = tmp_path / "moved"
    root.mkdir()
    (root / "a.txt").write_text(LICENSE)
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "dupes", embedder) as c:
        c.index_folder(root)
        counting = CountingEmbed(c.embedder, monkeypatch)
        (root / "a.txt").rename(root / "renamed.txt")
        report = c.index_folder(root)
        assert (report.added, report.removed, report.copies, counting.texts) == (1, 1, 1, 0)
        assert [(h.path, h.copies) for h in license_hits(c)] == [(str(root / "renamed.txt"), 0)]
