"""Try to make a real ``semsearch serve`` index files outside its allowed roots; count what got through.

    python benchmarks/escape_test.py [--files 40] [--race-jobs 3] [--json]

Starts the server on a free port with two allowed roots: a folder, and a symlink to a second folder
(the way a deployment might name a root). An ``outside`` folder beside them holds files with a secret
word. Then, as an attacker with API access and write access inside a root would:

- **static** attempts: ``..`` and absolute paths, ``sub/../..``, a symlinked subfolder and a
  symlinked file leading out, a symlink loop, a path through a symlink, the symlinked root re-pointed
  at ``outside`` after start-up (asked through the link, its old target and the new one);
- **racing** attempts: jobs that walk the root while a thread swaps a subfolder for a symlink to
  ``outside`` and back as fast as it can, and jobs started while another thread re-points the symlinked
  root back and forth.

An attempt *escapes* if any chunk of an outside file becomes searchable (a keyword query for the
secret, over every collection the attempts wrote to). A hard link inside a root to an outside file is
indexed by design (see the README, "Hard links are indexed") and is reported on its own line, not
counted as an escape. Prints attempts, refusals, jobs run and escapes, with the load average; exits 1
on any escape.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.suite.http import _free_port, _wait_ready, stop_process  # noqa: E402

SECRET = "OUTSIDESECRET"


def make_tree(base: Path, files: int) -> tuple[Path, Path, Path, Path]:
    """root/sub with ``files`` notes, a second root reached through the symlink ``root-link``, and
    ``outside`` with as many secret files (plus ``outside/deep`` for nested attempts)."""
    root, other, outside = base / "root", base / "other-root", base / "outside"
    for folder in (root / "sub", other, outside / "deep"):
        folder.mkdir(parents=True)
    for i in range(files):
        (root / "sub" / f"n{i:03d}.txt").write_text(f"inside note {i} about rivers")
        (outside / f"s{i:03d}.txt").write_text(f"{SECRET} {i} bank codes")
    (outside / "deep" / "x.txt").write_text(f"{SECRET} deep")
    (other / "a.txt").write_text("the other root's own note about lakes")
    link = base / "root-link"
    link.symlink_to(other)
    return root, other, outside, link


class Flipper(threading.Thread):
    """Calls ``flip`` and ``back`` alternately, as fast as it can, until stopped."""

    def __init__(self, flip: Any, back: Any) -> None:
        super().__init__(daemon=True)
        self.flip, self.back = flip, back
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.flip()
            self.flips += 1
            self.back()
            time.sleep(0.0005)  # the real folder stays in place for a moment too, so walks get into it


def swap_subfolder(root: Path, outside: Path) -> Flipper:
    sub, away = root / "sub", root / ".sub-away"

    def flip() -> None:
        os.rename(sub, away)
        os.symlink(outside, sub)

    def back() -> None:
        os.unlink(sub)
        os.rename(away, sub)

    return Flipper(flip, back)


def repoint(link: Path, good: Path, bad: Path) -> Flipper:
    def point(target: Path) -> None:
        tmp = link.with_name(link.name + ".new")
        tmp.symlink_to(target)
        os.replace(tmp, link)  # atomic: the link always exists

    return Flipper(lambda: point(bad), lambda: point(good))


class Attacker:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=600)
        self.collections: set[str] = set()
        self.rows: list[dict[str, Any]] = []

    def attempt(self, kind: str, what: str, path: str, collection: str) -> dict[str, Any]:
        """POST index-folder; when accepted, wait for the job. Returns (and records) what happened."""
        r = self.http.post(f"/collections/{collection}/index-folder", json={"path": path})
        row: dict[str, Any] = {"kind": kind, "what": what, "path": path, "status": r.status_code}
        if r.status_code == 202:
            self.collections.add(collection)
            row["job"] = self.wait(r.json()["id"])
        elif r.status_code >= 500:
            row["error"] = r.text[:200]
        self.rows.append(row)
        return row

    def wait(self, job_id: str) -> str:
        while True:
            job = self.http.get(f"/jobs/{job_id}").json()
            if job["state"] not in ("queued", "running"):
                return str(job["state"])
            time.sleep(0.1)

    def secret_hits(self, collection: str) -> int:
        r = self.http.post(f"/collections/{collection}/query", json={"query": SECRET, "mode": "keyword", "k": 1000})
        return len(r.json()["hits"]) if r.status_code == 200 else 0


def run(files: int, race_jobs: int, work: Path, say: Any) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    root, other, outside, link = make_tree(work, files)
    port = _free_port()
    env = {**os.environ, "SEMSEARCH_DATA_DIR": str(work / "data"), "SEMSEARCH_HOST": "127.0.0.1",
           "SEMSEARCH_PORT": str(port), "SEMSEARCH_ALLOWED_ROOTS": f"{root},{link}", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    for client_setting in ("SEMSEARCH_URL", "SEMSEARCH_API_KEY", "SEMSEARCH_API_KEYS"):
        env.pop(client_setting, None)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, timeout=300)
        say(f"server ready at {url}; roots {root} and {link} -> {other}")
        a = Attacker(url)
        # -- static ------------------------------------------------------------------------------
        (root / "out-dir").symlink_to(outside)
        (root / "out-file.txt").symlink_to(outside / "s000.txt")
        (root / "loop").symlink_to(root / "loop")
        (root / "via").symlink_to(root / "sub")
        for what, path in [("parent path", "../outside"), ("absolute path", str(outside)), ("system folder", "/etc"),
                           ("dot-dot inside", "sub/../../outside"), ("symlinked subfolder", "out-dir"),
                           ("through a symlink", "out-dir/deep"), ("symlink loop", "loop"),
                           ("symlink inside, then out", "via/../../outside"), ("the root itself", ".")]:
            a.attempt("static", what, path, "static")
        link.unlink()
        link.symlink_to(outside)  # the symlinked root re-pointed after start-up
        for what, path in [("re-pointed root, by link", str(link)), ("re-pointed root, new target", str(outside)),
                           ("re-pointed root, old target", str(other))]:
            a.attempt("static", what, path, "repointed")
        link.unlink()
        link.symlink_to(other)
        # -- racing ------------------------------------------------------------------------------
        swapper = swap_subfolder(root, outside)
        swapper.start()
        try:
            for i in range(race_jobs):
                a.attempt("racing", f"subfolder swapped during the walk ({i + 1})", str(root), "race-swap")
        finally:
            swapper.stop.set()
            swapper.join()
        flipper = repoint(link, other, outside)
        flipper.start()
        try:
            for i in range(race_jobs * 4):  # short jobs: many tries at the check-then-use window
                a.attempt("racing", f"root re-pointed while jobs start ({i + 1})", str(link), "race-root")
        finally:
            flipper.stop.set()
            flipper.join()
        escapes = {c: a.secret_hits(c) for c in sorted(a.collections)}
        # -- by design: a hard link inside a root ---------------------------------------------------
        os.link(outside / "s001.txt", root / "hard-link.txt")
        a.attempt("by-design", "hard link to an outside file", str(root), "hardlink")
        hard = a.secret_hits("hardlink")
    finally:
        stop_process(proc, timeout=30)
    rows = a.rows
    attacks = [r for r in rows if r["kind"] != "by-design"]
    return {
        "attempts_static": sum(r["kind"] == "static" for r in rows),
        "attempts_racing": sum(r["kind"] == "racing" for r in rows),
        "refused": sum(r["status"] in (403, 422) for r in attacks),
        "jobs_run": sum("job" in r for r in attacks),
        "jobs_not_succeeded": sum(r.get("job") not in (None, "succeeded") for r in attacks),
        "server_errors": sum(r["status"] >= 500 for r in rows),
        "swaps": swapper.flips, "root_repoints": flipper.flips,
        "outside_chunks_indexed": sum(escapes.values()), "escapes_by_collection": escapes,
        "accepted_escapes": sum(1 for v in escapes.values() if v),
        "hard_link_chunks_indexed": hard,
        "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "attempts": rows,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=40, help="files in the raced subfolder and in the outside folder")
    p.add_argument("--race-jobs", type=int, default=3, help="jobs run while the subfolder is swapped")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="semsearch-escape-"))

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    r = run(args.files, args.race_jobs, work, say)
    ok = r["outside_chunks_indexed"] == 0 and r["server_errors"] == 0
    if args.json:
        print(json.dumps({**r, "passed": ok}))
        return 0 if ok else 1
    for row in r["attempts"]:
        print(f"{row['kind']:9} {row['what']:45} {row['status']} {row.get('job', '')}")
    print(f"escape attempts: {r['attempts_static']} static, {r['attempts_racing']} racing "
          f"({r['swaps']} subfolder swaps, {r['root_repoints']} root re-points); refused {r['refused']}, "
          f"jobs run {r['jobs_run']}; accepted escapes: {r['accepted_escapes']} "
          f"({r['outside_chunks_indexed']} outside chunks indexed); 5xx: {r['server_errors']}")
    print(f"by design: a hard link inside the root to an outside file: {r['hard_link_chunks_indexed']} chunk(s) "
          "indexed (README: 'Hard links are indexed')")
    print(f"load average {r['load_average_before']} before, {r['load_average_after']} after ({r['cpus']} CPUs); "
          f"{'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
