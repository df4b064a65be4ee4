"""App fixtures: a real app (real model, SQLite and FAISS in a tmp folder) behind FastAPI's TestClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}

# Short texts: embedding is the slow part of every test here.
DOCS = {
    "bread.md": "Sourdough bread needs a long, slow rise before baking.",
    "planets.txt": "Jupiter is the largest planet in the solar system.",
    "python.md": "Python lists are ordered and mutable sequences.",
    "sub/tea.txt": "Green tea is brewed with water below boiling.",
}


def write_docs(root: Path, docs: dict[str, str] = DOCS) -> Path:
    for rel, text in docs.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def make_client(embedder, tmp_data_dir) -> Iterator[Callable[..., TestClient]]:
    """make_client(**settings) -> a started TestClient over a fresh app (the model is shared)."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        overrides.setdefault("data_dir", tmp_data_dir)
        overrides.setdefault("explain_preload", False)  # the /explain model is preloaded where a test asks for it
        app = create_app(make_settings(**overrides), embedder=embedder)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def wait_job(client: TestClient, job_id: str, timeout: float = 60, headers: dict[str, str] | None = None
             ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}", headers=headers).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job still {job['state']} after {timeout}s: {job}"
        time.sleep(0.05)


@pytest.fixture
def indexed(client, tmp_data_dir) -> TestClient:
    """A client whose collection 'notes' holds DOCS (indexed from <data>/docs) and two API documents."""
    write_docs(tmp_data_dir / "docs")
    assert client.post("/collections", json={"name": "notes"}).status_code == 201
    r = client.post("/collections/notes/index-folder", json={"path": "."})
    assert r.status_code == 202, r.text
    assert wait_job(client, r.json()["id"])["state"] == "succeeded"
    r = client.post("/collections/notes/documents", json={"documents": [
        {"id": "pets/cat", "text": "Cats purr when they are content.", "metadata": {"topic": "pets", "year": 2021}},
        {"id": "pets/dog", "text": "Dogs wag their tails when happy.", "metadata": {"topic": "pets", "year": 2023}},
    ]})
    assert r.status_code == 200, r.text
    return client
