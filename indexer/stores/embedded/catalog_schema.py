"""The SQLite catalog's schema (``catalog.py``) and its migrations from older versions."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5

# Schema changes after version 1, applied in order on open; each checks whether it is needed, so an
# old collection opens (and is upgraded in place, without rewriting rows) and a new one ends equal.
# 2: chunks.metadata: the page / slide / sheet / message a chunk starts in (``readers.Part``).
# 3: sources.partial: 1 while a big file is committed batch by batch (see SourceWrite).
# 4: chunks.terms: the chunk's keyword terms (``indexer.analysis.languages``), space-separated, for
#    the ``chunks_terms`` FTS5 table of collections made since; older ones keep ``chunks_fts`` (below).
# 5: sources.same_as: a copy's canonical source (same content, stored once; ``SourceWrite.copy_of``),
#    NULL for every other source; indexes to find a content's canonical file and a source's copies.
#    Files indexed before keep their duplicate chunks until they change.
_MIGRATIONS: list[tuple[int, str, str]] = [
    (2, "chunks", "ALTER TABLE chunks ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}'"),
    (3, "sources", "ALTER TABLE sources ADD COLUMN partial INTEGER NOT NULL DEFAULT 0"),
    (4, "chunks", "ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT ''"),
    (5, "sources", "ALTER TABLE sources ADD COLUMN same_as INTEGER"),
]
_MIGRATION_INDEXES: list[tuple[int, str]] = [
    (5, "CREATE INDEX IF NOT EXISTS sources_by_copy ON sources (same_as) WHERE same_as IS NOT NULL"),
    (5, "CREATE INDEX IF NOT EXISTS sources_by_sha ON sources (sha256)"),
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'doc')),
    key TEXT NOT NULL,              -- absolute path for files, the caller's id for documents
    root TEXT NOT NULL DEFAULT '',  -- the folder a file was indexed from (path globs match below it)
    ext TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    mtime REAL NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    text TEXT,                      -- full text, kept for documents only (files stay on disk)
    indexed_at REAL NOT NULL,
    UNIQUE (kind, key)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL            -- float32, L2-normalized, little endian
);
CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks (source_id);
CREATE TABLE IF NOT EXISTS vector_log (
    seq INTEGER NOT NULL,
    chunk_id INTEGER NOT NULL,
    op INTEGER NOT NULL             -- +1 added, -1 removed
);
CREATE INDEX IF NOT EXISTS vector_log_by_seq ON vector_log (seq);
"""


# The keyword index, one of two (meta ``keywords``, see ``StoreMeta.keywords``):
# - "analysed" (collections made since languages exist): the chunk's terms, made in Python by the
#   collection's ``Analyzer`` (per-language Snowball stems, folded, CJK bigrams) and stored in
#   ``chunks.terms``; FTS5 only splits them on spaces (no stemmer of its own, no folding left to do).
# - "legacy": FTS5's own Porter stemmer over the chunk's text, as every collection made before had. It
#   is kept, not converted: the same ranking as before, and no re-analysis of every chunk on open.
KEYWORD_TABLES = {"analysed": "chunks_terms", "legacy": "chunks_fts"}
_KEYWORD_SCHEMA = {
    "analysed": """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_terms USING fts5 (
    terms, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER IF NOT EXISTS chunks_terms_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_terms (rowid, terms) VALUES (new.id, new.terms);
END;
CREATE TRIGGER IF NOT EXISTS chunks_terms_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_terms (chunks_terms, rowid, terms) VALUES ('delete', old.id, old.terms);
END;
""",
    "legacy": """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, content='chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
""",
}


def _keyword_index(con: sqlite3.Connection, fresh: bool) -> str:
    """Make (if missing) the keyword index of the catalog and return its kind: "analysed" for a catalog
    made now (``fresh``), "legacy" for one made before meta ``keywords`` existed. INSERT OR IGNORE: when
    two processes open at once, the first one's answer stands, and both read it back."""
    con.execute("INSERT OR IGNORE INTO meta VALUES ('keywords', ?)", ("analysed" if fresh else "legacy",))
    kind = str(con.execute("SELECT value FROM meta WHERE key = 'keywords'").fetchone()[0])
    con.executescript(_KEYWORD_SCHEMA[kind])
    return kind


def _migrate(con: sqlite3.Connection) -> None:
    """Bring a catalog made by an older version up to SCHEMA_VERSION (one transaction)."""
    version = int(con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        for to, table, sql in _MIGRATIONS:
            columns = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if to > version and sql.split("ADD COLUMN ", 1)[1].split()[0] not in columns:
                con.execute(sql)
        for to, sql in _MIGRATION_INDEXES:
            if to > version:
                con.execute(sql)
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise


def rollback(con: sqlite3.Connection) -> None:
    """Undo ``con``'s open transaction, if there still is one, and never raise: SQLite has already rolled
    back by itself after some errors (a full disk: "database or disk is full"), and a ROLLBACK then fails
    with "cannot rollback - no transaction is active", which would hide the error that matters."""
    if not con.in_transaction:
        return
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error as e:
        log.warning("rollback failed (the transaction is not committed either way): %s", e)


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a process crash never loses a commit
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=60000")
    return con
