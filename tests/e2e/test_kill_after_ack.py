"""Kill after acknowledge: a real server is SIGKILLed right after it answered writes, and the folder is
then used without its ``catalog.sqlite3-wal`` (a copy of the folder taken after a crash, say). Every
acknowledged write is in ``catalog.sqlite3`` itself: nothing acknowledged is missing, nothing deleted
comes back, and the collection never opens silently empty."""

from __future__ import annotations

import os
import signal

import httpx

from indexer.collection import Collection
from indexer.stores.embedded import EmbeddedBackend
from tests.indexer.stores.embedded import files
from tests.serving import serve


def test_acknowledged_writes_are_in_the_catalog_file_when_the_server_is_killed(tmp_path, embedder):
    data = tmp_path / "data"
    with serve(data) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        assert http.post("/collections", json={"name": "c"}).status_code == 201
        acknowledged: set[str] = set()
        for batch in range(4):
            docs = [{"id": f"b{batch}-{i}", "text": f"Batch {batch}, note {i}: the ferry leaves at dawn."}
                    for i in range(5)]
            assert http.post("/collections/c/documents", json={"documents": docs}).status_code == 200
            acknowledged |= {d["id"] for d in docs}
        assert http.post("/collections/c/documents/delete", json={"ids": ["b0-0", "b3-4"]}).status_code == 200
        acknowledged -= {"b0-0", "b3-4"}
        updated = {"id": "b1-1", "text": "Changed: the ferry is cancelled."}
        assert http.post("/collections/c/documents", json={"documents": [updated]}).status_code == 200
        os.kill(server.pid, signal.SIGKILL)  # right after the last answer
        os.waitpid(server.pid, 0)
    folder = files.collection_dir(data, "c")
    wal = folder / (files.CATALOG_FILE + "-wal")
    assert wal.exists()  # the server kept it: the writes reached catalog.sqlite3 by a checkpoint, not a close
    wal.unlink()
    with Collection.open(EmbeddedBackend(data), "c", embedder, create=False) as coll:
        sources, total = coll.list_sources(limit=1000)
        assert {s.key for s in sources} == acknowledged and total == len(acknowledged)
        assert coll.get_document("b1-1").text == updated["text"]
        assert coll.search("ferry cancelled", k=1, mode="dense")[0].id == "b1-1"
