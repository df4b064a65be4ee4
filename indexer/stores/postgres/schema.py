"""The Postgres store's tables, all in one schema (``SEMSEARCH_POSTGRES_SCHEMA``, default ``semsearch``).

Shared by every collection:
- ``collections``: one row per collection: its name, the number ``phys`` of its tables, the model and
  dimension, the vector type, the keyword analysis (``language``, ``keywords``), the write sequence,
  the chunk count (BM25's N). A writer locks its row
  (``FOR UPDATE``), which serializes the writes of one collection across every process and replica.
- ``jobs``: the folder jobs of every replica (``jobs.py``);
- ``indexing``: which process runs a collection's folder indexer (``locks.py``);
- ``reindexing``: which model and process run a collection's re-index (what a refused write names;
  the re-index's advisory lock, not this row, is what refuses it).

Per collection, named by ``phys`` (``c<phys>_sources``, ``c<phys>_chunks``, ``c<phys>_terms``), so a
re-index can fill new tables and swap ``phys`` in one transaction (``reindex.py``):
- sources: files and documents (key, root, extension, size, mtime, hash, metadata as jsonb), with
  indexes on the key (prefix scans), extension, mtime and metadata (GIN);
- chunks: offsets, text, the chunk's own metadata, the embedding (``vector(d)`` or ``halfvec(d)``),
  the BM25 term weights as a ``sparsevec`` and the term ids as an ``int[]`` (GIN: which chunks hold
  a query's terms); for ``index_type=hnsw`` an HNSW index on the embedding (inner product: the
  vectors are L2-normalized, so it is the cosine), built once the collection first holds
  ``hnsw_after`` chunks (:func:`ensure_hnsw`); none for ``flat`` (exact scan);
- terms: the number of chunks holding each term (BM25's document frequency), kept by every write in
  its transaction.
"""

from __future__ import annotations

from typing import Any

import psycopg

# pgvector's sparsevec holds at most this many dimensions; term ids are CRC32s folded into it.
TERM_SPACE = 1_000_000_000

SHARED = """
CREATE TABLE IF NOT EXISTS collections (
    name text PRIMARY KEY,
    phys bigint NOT NULL,
    model text NOT NULL,
    dimension int NOT NULL,
    index_type text NOT NULL,
    vector_type text NOT NULL,
    created double precision NOT NULL,
    seq bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0
);
CREATE SEQUENCE IF NOT EXISTS phys_numbers;
CREATE TABLE IF NOT EXISTS indexing (
    name text PRIMARY KEY,
    by text NOT NULL,
    since double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS reindexing (
    name text PRIMARY KEY,
    model text NOT NULL,
    by text NOT NULL,
    started double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id text PRIMARY KEY,
    key text NOT NULL,
    kind text NOT NULL,
    params jsonb NOT NULL,
    state text NOT NULL,
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision,
    progress jsonb NOT NULL DEFAULT '{}',
    report jsonb,
    error jsonb,
    cancel_requested boolean NOT NULL DEFAULT false,
    owner text NOT NULL,
    heartbeat double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (key);
-- The keyword analysis's language (indexer/analysis/languages.py); a collection made before languages
-- existed reads 'en' with its 'legacy' analysis (new rows say 'analysed'): no migration step.
ALTER TABLE collections ADD COLUMN IF NOT EXISTS language text NOT NULL DEFAULT 'en';
ALTER TABLE collections ADD COLUMN IF NOT EXISTS keywords text NOT NULL DEFAULT 'legacy';
"""


def tables(phys: int) -> dict[str, str]:
    return {"sources": f"c{phys}_sources", "chunks": f"c{phys}_chunks", "terms": f"c{phys}_terms"}


def create_shared(con: psycopg.Connection[Any]) -> None:
    # Two processes starting at once would race on CREATE ... IF NOT EXISTS (it is not atomic in the
    # catalog): a transaction-scoped advisory lock makes the first one do it.
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(hashtext('semsearch schema'))")
        con.execute(SHARED)


def create_collection_tables(con: psycopg.Connection[Any], phys: int, *, dimension: int, vector_type: str) -> None:
    """The three tables of one collection, with their indexes but the HNSW one (inside the caller's
    transaction)."""
    t = tables(phys)
    con.execute(f"""
        CREATE TABLE {t['sources']} (
            id bigserial PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('file', 'doc')),
            key text NOT NULL,
            root text NOT NULL DEFAULT '',
            ext text NOT NULL DEFAULT '',
            size bigint NOT NULL DEFAULT 0,
            mtime double precision NOT NULL DEFAULT 0,
            sha256 text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{{}}',
            text text,
            indexed_at double precision NOT NULL,
            partial boolean NOT NULL DEFAULT false,
            same_as bigint,  -- a copy's canonical source (same content, stored once), else NULL
            UNIQUE (kind, key)
        );
        CREATE INDEX ON {t['sources']} (key text_pattern_ops);
        CREATE INDEX ON {t['sources']} (ext);
        CREATE INDEX ON {t['sources']} (mtime);
        CREATE INDEX ON {t['sources']} USING gin (metadata jsonb_path_ops);
        CREATE TABLE {t['chunks']} (
            id bigserial PRIMARY KEY,
            source_id bigint NOT NULL REFERENCES {t['sources']} (id) ON DELETE CASCADE,
            ord int NOT NULL,
            start int NOT NULL,
            "end" int NOT NULL,
            text text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{{}}',
            embedding {vector_type}({int(dimension)}) NOT NULL,
            keywords sparsevec({TERM_SPACE}) NOT NULL,
            terms int[] NOT NULL
        );
        CREATE INDEX ON {t['chunks']} (source_id, ord);
        CREATE INDEX ON {t['chunks']} USING gin (terms);
        CREATE TABLE {t['terms']} (term int PRIMARY KEY, df int NOT NULL);
    """)
    _copy_indexes(con, t["sources"])


def _copy_indexes(con: psycopg.Connection[Any], sources: str) -> None:
    con.execute(f"CREATE INDEX IF NOT EXISTS {sources}_same_as ON {sources} (same_as) WHERE same_as IS NOT NULL")
    con.execute(f"CREATE INDEX IF NOT EXISTS {sources}_sha256 ON {sources} (sha256)")


def upgrade_collection_tables(con: psycopg.Connection[Any], phys: int) -> None:
    """Give tables made before copies existed their ``same_as`` column (NULL: every source is its own;
    the duplicates indexed before keep their chunks until they change). Looked up first, so an
    upgraded collection takes no table lock on open."""
    sources = tables(phys)["sources"]
    if con.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                   "AND table_name = %s AND column_name = 'same_as'", (sources,)).fetchone():
        return
    with con.transaction():
        con.execute(f"ALTER TABLE {sources} ADD COLUMN IF NOT EXISTS same_as bigint")
        _copy_indexes(con, sources)


def hnsw_name(phys: int) -> str:
    return f"c{phys}_chunks_hnsw"


def ensure_hnsw(con: psycopg.Connection[Any], phys: int, vector_type: str, *, concurrently: bool) -> bool:
    """Build the HNSW index of collection ``phys`` unless it has a valid one; True if it built one.

    Why after the first bulk load rather than with the table: loading rows into an HNSW index costs far
    more than building it once over them (measured by ``benchmarks/postgres_store.py``: 7.1 ms a row
    with the index in place vs 0.9 ms to load then build, 5,000 rows, 2 busy cores), and below a few
    thousand chunks an exact scan is as fast and exact. ``concurrently`` (outside a transaction, on a
    live collection) lets searches and writes of every replica go on while it builds; an index left
    invalid by a build that was killed is dropped and built again."""
    name, t = hnsw_name(phys), tables(phys)
    valid = con.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
                        (name,)).fetchone()
    if valid is not None and valid[0]:
        return False
    how = "CONCURRENTLY " if concurrently else ""
    if valid is not None:
        con.execute(f"DROP INDEX {how}{name}")
    con.execute(f"CREATE INDEX {how}{name} ON {t['chunks']} USING hnsw (embedding {vector_type}_ip_ops)")
    return True


def drop_collection_tables(con: psycopg.Connection[Any], phys: int) -> None:
    t = tables(phys)
    con.execute(f"DROP TABLE IF EXISTS {t['chunks']}, {t['sources']}, {t['terms']}")
