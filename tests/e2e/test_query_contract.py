"""One query contract: ``semsearch query --json`` prints the HTTP response body byte for byte, the
CLI refuses what the API refuses, and a burst at a real server gets 200s or 503s (the benchmark, tiny)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serving import REPO, SEMSEARCH, cli_env, serve

DOCS = [{"id": "tea", "text": "Green tea is brewed with water just below boiling, for two or three minutes.",
         "metadata": {"lang": "en", "year": 2021}},
        {"id": "the", "text": "Le thé vert se prépare avec une eau frémissante, pendant deux ou trois minutes.",
         "metadata": {"lang": "fr", "year": 2021}},
        {"id": "coffee", "text": "Espresso is brewed by forcing hot water through finely ground coffee beans.",
         "metadata": {"lang": "en", "year": 2019}}]
# (the HTTP body, the same request as CLI options)
REQUESTS = [
    ({"query": "brewing tea", "k": 2, "offset": 1, "fusion": "rrf", "explain": True,
      "filters": {"metadata": {"lang": "en"}, "modified_after": "1970-01-02T00:00:00"}},
     ["brewing tea", "--k", "2", "--offset", "1", "--fusion", "rrf", "--explain", "--metadata", "lang=en",
      "--modified-after", "1970-01-02T00:00:00"]),
    ({"like": "tea", "mode": "dense", "min_similarity": 0.2, "filters": {"metadata": {"year": 2021}}},
     ["--like", "tea", "--mode", "dense", "--min-similarity", "0.2", "--metadata", "year=2021"]),
    ({"query": "zxqv blorf", "min_similarity": 0.3, "filters": {"ext": ["txt"], "path_glob": "**"}},
     ["zxqv blorf", "--min-similarity", "0.3", "--ext", "txt", "--path-glob", "**"]),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real server over a data folder with collection 'notes' (three documents, two files)."""
    data = tmp_path_factory.mktemp("contract") / "data"
    (data / "docs").mkdir(parents=True)
    (data / "docs" / "moon.txt").write_text("The Moon orbits the Earth and causes the ocean tides.")
    (data / "docs" / "bread.md").write_text("Knead the dough, let it rise for an hour, then bake it.")
    with serve(data) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        assert http.post("/collections", json={"name": "notes"}).status_code == 201
        assert http.post("/collections/notes/documents", json={"documents": DOCS}).status_code == 200
        job = http.post("/collections/notes/index-folder", json={"path": "."}).json()
        deadline = time.monotonic() + 120
        while http.get(f"/jobs/{job['id']}").json()["state"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        yield data, http


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*SEMSEARCH, "query", *args, "--collection", "notes", "--json"], env=cli_env(data),
                          capture_output=True, timeout=300, cwd=data)


def test_cli_json_is_the_http_body_byte_for_byte(served):
    data, http = served
    for body, args in REQUESTS:
        r = http.post("/collections/notes/query", json=body)
        assert r.status_code == 200, r.text
        proc = _cli(data, *args)
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stdout == r.content + b"\n", (body, proc.stdout, r.content)
    moon = str(data / "docs" / "moon.txt")  # a file by its path: the CLI takes it relative to where it runs
    r = http.post("/collections/notes/query", json={"like": moon, "k": 2})
    proc = _cli(data, "--like", "docs/moon.txt", "--k", "2")
    assert r.status_code == 200 and proc.stdout == r.content + b"\n", (proc.stderr, r.text)
    assert moon not in [h["id"] for h in r.json()["hits"]] and r.json()["hits"]
    brewing, like, junk = (http.post("/collections/notes/query", json=b).json() for b, _ in REQUESTS)
    assert [h["id"] for h in brewing["hits"]] and all(h["metadata"]["lang"] == "en" for h in brewing["hits"])
    assert like["like"] == "tea" and "tea" not in [h["id"] for h in like["hits"]]
    assert junk["hits"] == [] and junk["total_candidates"] == 0  # nothing resembles gibberish


@pytest.mark.parametrize("body, args, field, same_words", [
    ({"query": ""}, [""], "query", True),
    ({"query": "   "}, ["   "], "query", True),
    ({"query": "tea", "k": 1001}, ["tea", "--k", "1001"], "k", False),  # the API's schema words this one
    ({"query": "tea", "like": "tea"}, ["tea", "--like", "tea"], "like", True),
    ({"like": "tea", "mode": "keyword"}, ["--like", "tea", "--mode", "keyword"], "like", True),
    ({"like": "nope"}, ["--like", "nope"], "like", True),
])
def test_the_cli_refuses_what_the_api_refuses(served, body, args, field, same_words):
    data, http = served
    r = http.post("/collections/notes/query", json=body)
    assert r.status_code in (404, 422) and r.json()["error"]["field"] == field, r.text
    proc = _cli(data, *args)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
    if same_words:  # the library's rule and message, on both paths
        assert r.json()["error"]["message"].encode() in proc.stderr.replace(b"\n", b""), proc.stderr


def test_the_burst_benchmark_runs_against_a_real_server():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "http_burst.py"), "--connections", "3", "6",
                           "--rounds", "1", "--docs", "8", "--max-inflight", "2", "--json"],
                          capture_output=True, text=True, timeout=600, env=cli_env(REPO))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [b["connections"] for b in out["bursts"]] == [3, 6]
    for b in out["bursts"]:
        assert b["ok"] >= 1 and b["other"] == 0 and b["ok"] + b["rejected_503"] == b["connections"]
        assert b["ok_p50_ms"] <= b["ok_p99_ms"] and len(b["load_average"]) == 3
