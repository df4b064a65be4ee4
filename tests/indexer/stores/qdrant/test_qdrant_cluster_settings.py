"""SEMSEARCH_QDRANT_SHARDS and SEMSEARCH_QDRANT_REPLICAS reach every collection semsearch creates in Qdrant
(including a re-index's new one). Local mode accepts and ignores both, and no Qdrant cluster runs here, so
this checks what is asked of the client; a server honours it (docs/scaling.md)."""

from __future__ import annotations

from typing import Any

import pytest

from app.settings import Settings
from indexer.collection import Collection

pytest.importorskip("qdrant_client")


def test_shard_and_replica_counts_reach_each_new_collection(tmp_path, embedder, monkeypatch):
    backend = Settings(store="qdrant", qdrant_path=str(tmp_path / "q"), qdrant_shards=3,
                       qdrant_replicas=2).store_backend()
    asked: list[dict[str, Any]] = []
    real = backend.client.create_collection

    def create_collection(name: str, **kw: Any) -> Any:
        asked.append({"name": name, **kw})
        return real(name, **kw)

    monkeypatch.setattr(backend.client, "create_collection", create_collection)
    try:
        Collection.open(backend, "notes", embedder).close()
        assert [(a["shard_number"], a["replication_factor"]) for a in asked] == [(3, 2)]
        assert asked[0]["name"].startswith("semsearch_notes__")
    finally:
        backend.close()


def test_bad_counts_name_the_setting():
    from app.settings import InvalidSettings

    with pytest.raises(InvalidSettings) as e:
        Settings.load(store="qdrant", qdrant_url="http://127.0.0.1:6333", qdrant_shards=0)
    assert "SEMSEARCH_QDRANT_SHARDS" in str(e.value)
