"""The full-text route against a file swapped under it, as an attacker who can write in the folder would:
the indexed file becomes a symlink to a file outside the allowed roots, a FIFO, and itself again, as fast
as the kernel allows, while clients ask GET /collections/{name}/text?kind=file. Nothing outside the roots
may come back (0 leaks) and every request must return (0 hung: a FIFO opened for reading waits for a
writer, for ever, unless opened O_NONBLOCK)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import httpx

from tests.serving import serve

TEXT = "Rivers carry water from the hills down to the sea.\n"
SECRET = "OUTSIDE-THE-ROOTS: the contents of a private file.\n"
RACE_SECONDS = 3.0
CLIENTS = 4


# Run in its own process, so the swaps go as fast as the kernel allows (no GIL shared with the clients).
SWAPPER = """
import os, sys, time
target, secret, tmp, text, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    os.symlink(secret, tmp)
    os.replace(tmp, target)
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, target)
    os.mkfifo(tmp)
    os.replace(tmp, target)
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, target)
    n += 4
print(n)
"""


def _ask(url: str, path: str, stop: threading.Event, seen: dict[str, int], lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=httpx.Timeout(5.0, connect=5.0)) as http:
        while not stop.is_set():
            try:
                r = http.get("/collections/notes/text", params={"id": path, "kind": "file"})
            except httpx.TimeoutException:
                key = "hung"
            else:
                body = r.json() if r.status_code == 200 else {}
                key = "leak" if "OUTSIDE-THE-ROOTS" in r.text else body.get("origin", f"status {r.status_code}")
            with lock:
                seen[key] = seen.get(key, 0) + 1


def test_symlink_and_fifo_swaps_never_leak_nor_hang(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "rivers.txt").write_text(TEXT)
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    target = str(docs / "rivers.txt")
    with serve(tmp_path / "data", cwd=tmp_path, SEMSEARCH_ALLOWED_ROOTS=str(docs)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.post("/collections", json={"name": "notes"}).status_code == 201
            job = http.post("/collections/notes/index-folder", json={"path": str(docs)}).json()
            deadline = time.monotonic() + 120
            while (state := http.get(f"/jobs/{job['id']}").json()["state"]) in ("queued", "running"):
                assert time.monotonic() < deadline, "the indexing job did not finish"
                time.sleep(0.1)
            assert state == "succeeded"
            assert http.get("/collections/notes/text", params={"id": target}).json()["origin"] == "disk"

        stop, lock = threading.Event(), threading.Lock()
        seen: dict[str, int] = {}
        clients = [threading.Thread(target=_ask, args=(server.url, target, stop, seen, lock)) for _ in range(CLIENTS)]
        for t in clients:
            t.start()
        swapper = subprocess.run([sys.executable, "-c", SWAPPER, target, str(outside / "secret.txt"),
                                  str(docs / ".swap"), TEXT, str(RACE_SECONDS)],
                                 capture_output=True, text=True, timeout=60, check=True)
        stop.set()
        for t in clients:
            t.join(timeout=30)
        print(f"{sum(seen.values())} requests during {swapper.stdout.strip()} swaps: {seen}")
        assert seen.get("leak", 0) == 0, seen
        assert seen.get("hung", 0) == 0, seen
        assert set(seen) <= {"disk", "chunks"}, seen  # every answer a 200, from the file or its chunks
        assert seen.get("disk", 0) > 0 and seen.get("chunks", 0) > 0, seen  # the race was run, both ways
