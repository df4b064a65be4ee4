"""Re-index a Postgres collection with another model in one transaction, while searches go on.

The transaction takes the collection's re-index lock (an advisory lock every write shares, so writes
through any replica are refused at once with "being re-indexed, retry when it finishes" rather than
queued), creates new tables, copies every source and chunk (text, offsets, metadata, BM25 terms) with
the chunks embedded by the new model, and points the collection's row at the new tables before it drops
the old ones. Until it commits every search reads the old tables (MVCC); after it, the new ones. A
failure, a cancel or a killed process rolls the whole transaction back: the collection is as it was, and
the server releases the lock with the connection. A process still holding the old model notices at its
next search or write (``PostgresStore._follow``) and answers ModelMismatch, naming the model to restart
with.

Which model and process run it is recorded (committed) in ``reindexing`` before the lock is taken; a
refused write names them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psycopg
from pgvector import SparseVector
from pgvector.psycopg import register_vector
from psycopg.types.json import Jsonb

from indexer.embedding import Embedder
from indexer.errors import CollectionNotFound
from indexer.stores.base import ReindexReport
from indexer.stores.postgres.connection import Database, advisory_key, answering, scalar
from indexer.stores.postgres.schema import (
    TERM_SPACE,
    create_collection_tables,
    drop_collection_tables,
    ensure_hnsw,
    tables,
)
from indexer.stores.postgres.writes import COPY_ROWS, vector_value

BATCH = 256  # chunks embedded per forward pass batch and copied per round trip


def whoami() -> str:
    """This process, as the re-index records it (``by``: what a refused write names)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def reindex(pg: Database, name: str, embedder: Embedder, *,
            progress: Callable[[dict[str, Any]], None] | None = None,
            cancel: threading.Event | None = None) -> ReindexReport:
    started = time.monotonic()
    # A connection of its own (not the pool's): the transaction holds it for the whole copy.
    with answering(pg.where, f"re-index collection {name!r}"), \
            psycopg.connect(pg.pools.url, autocommit=True, options=f"-c search_path={pg.pools.schema},public") as con:
        register_vector(con)
        con.execute("INSERT INTO reindexing VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "model = EXCLUDED.model, by = EXCLUDED.by, started = EXCLUDED.started",
                    (name, embedder.name, whoami(), time.time()))
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("reindex", name),))
            got = con.execute("SELECT phys, model, index_type, vector_type FROM collections WHERE name = %s FOR UPDATE",
                              (name,)).fetchone()
            if got is None:
                raise CollectionNotFound(name, pg.names())
            old_phys, old_model, index_type, vector_type = int(got[0]), got[1], got[2], got[3]
            new_phys = int(scalar(con, "SELECT nextval('phys_numbers')"))
            create_collection_tables(con, new_phys, dimension=embedder.dimension, vector_type=vector_type)
            old, new = tables(old_phys), tables(new_phys)
            con.execute(f"INSERT INTO {new['sources']} SELECT * FROM {old['sources']}")
            con.execute(f"INSERT INTO {new['terms']} SELECT * FROM {old['terms']}")
            con.execute(f"SELECT setval(pg_get_serial_sequence('{new['sources']}', 'id'), "
                        f"(SELECT COALESCE(max(id), 0) + 1 FROM {old['sources']}), false)")
            total = int(scalar(con, f"SELECT count(*) FROM {old['chunks']}"))
            done, last = 0, 0
            while True:
                if cancel is not None and cancel.is_set():
                    raise InterruptedError("the re-index was cancelled; the collection is unchanged")
                rows = con.execute(f"SELECT id, source_id, ord, start, \"end\", text, metadata, keywords, terms "
                                   f"FROM {old['chunks']} WHERE id > %s ORDER BY id LIMIT %s", (last, BATCH)).fetchall()
                if not rows:
                    break
                vectors = np.asarray(embedder.embed([r[5] for r in rows]), np.float32)
                _copy(con, new["chunks"], rows, vectors, vector_type)
                last = int(rows[-1][0])
                done += len(rows)
                if progress is not None:
                    progress({"phase": "copying", "chunks_done": done, "chunks_total": total})
            con.execute(f"SELECT setval(pg_get_serial_sequence('{new['chunks']}', 'id'), "
                        f"(SELECT COALESCE(max(id), 0) + 1 FROM {old['chunks']}), false)")
            if index_type == "hnsw" and done >= pg.hnsw_after:  # built over the copied rows: faster than during
                ensure_hnsw(con, new_phys, vector_type, concurrently=False)
            sources = int(scalar(con, f"SELECT count(*) FROM {new['sources']}"))
            con.execute("UPDATE collections SET phys = %s, model = %s, dimension = %s, created = %s, seq = seq + 1 "
                        "WHERE name = %s", (new_phys, embedder.name, embedder.dimension, time.time(), name))
            drop_collection_tables(con, old_phys)
        con.execute("DELETE FROM reindexing WHERE name = %s", (name,))
    return ReindexReport(name, embedder.name, old_model, sources, done, 1, round(time.monotonic() - started, 2))


def _copy(con: psycopg.Connection[Any], table: str, rows: list[tuple[Any, ...]], vectors: np.ndarray,
          vector_type: str) -> None:
    columns = "(id, source_id, ord, start, \"end\", text, metadata, embedding, keywords, terms)"
    for lo in range(0, len(rows), COPY_ROWS):
        with con.cursor().copy(f"COPY {table} {columns} FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "int8", "int4", "int4", "int4", "text", "jsonb", vector_type, "sparsevec", "int4[]"])
            for r, v in zip(rows[lo : lo + COPY_ROWS], vectors[lo : lo + COPY_ROWS], strict=True):
                keywords = r[7] if isinstance(r[7], SparseVector) else SparseVector(r[7], TERM_SPACE)
                cp.write_row([*r[:6], Jsonb(r[6]), vector_value(v, vector_type), keywords, r[8]])

