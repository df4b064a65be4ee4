"""One indexer per collection across every process and replica over one database
(``Store.indexing_lock``): a session-level advisory lock, held on a connection of its own for as long as
the folder run lasts. The server releases it when that session ends, so an indexer that is killed, or
whose host dies (once its TCP connection is dropped), never keeps it. Who holds it is recorded in the
``indexing`` table for the message a second run shows; the lock, not the row, decides."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import psycopg

from indexer.stores.postgres.connection import Database, advisory_key, answering


class PostgresIndexingLock:
    """The :class:`~indexer.stores.base.IndexingLock` of a Postgres collection. Each lock is a session of
    its own, so two of one process (two jobs of one server) exclude each other too."""

    def __init__(self, pg: Database, name: str) -> None:
        self.pg, self.name = pg, name
        self.holder = f"process {os.getpid()} on {socket.gethostname()}"
        self._con: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> str | None:
        if self._con is not None:
            raise RuntimeError(f"the indexing lock of {self.name!r} is held already by this lock")
        pools = self.pg.pools
        with answering(self.pg.where, f"lock collection {self.name!r} for indexing"):
            con = psycopg.connect(pools.url, autocommit=True, options=f"-c search_path={pools.schema},public")
            try:
                got = con.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key("index", self.name),)).fetchone()
                if got is not None and got[0]:
                    con.execute("INSERT INTO indexing VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                                "by = EXCLUDED.by, since = EXCLUDED.since", (self.name, self.holder, time.time()))
                    self._con = con
                    return None
                row = con.execute("SELECT by, since FROM indexing WHERE name = %s", (self.name,)).fetchone()
            except BaseException:
                con.close()
                raise
            con.close()
        if row is None:
            return "another process"
        since = time.strftime("%H:%M:%S UTC", time.gmtime(float(row[1])))
        return f"{row[0]} since {since}"

    def release(self) -> None:
        con, self._con = self._con, None
        if con is None:
            return
        try:
            con.execute("SELECT pg_advisory_unlock(%s)", (advisory_key("index", self.name),))
        except psycopg.Error:
            pass  # the session ends below, which releases it anyway
        finally:
            con.close()
