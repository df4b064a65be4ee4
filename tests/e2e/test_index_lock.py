"""Two ``semsearch index`` runs of one collection: the second waits (or refuses) and embeds nothing twice."""

from __future__ import annotations

import json
import subprocess
import time

from tests.serving import SEMSEARCH, cli_env, stop_process


def test_a_second_index_run_waits_for_the_first_and_embeds_each_chunk_once(tmp_path, run_cli):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        (docs / f"note-{i:02d}.txt").write_text(f"Note {i}: the ferry to island {i} leaves at {i % 12} o'clock "
                                               f"when the harbour master rings bell number {i * 3}.\n")
    env = cli_env(run_cli.data_dir)
    first = subprocess.Popen([*SEMSEARCH, "index", str(docs), "--json"], env=env, cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lock = run_cli.data_dir / "collections" / "default" / "indexing.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and f"process {first.pid} " in lock.read_text()):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        # The lock is taken before the model loads (it loads at the first chunk): the runs overlap.
        refused = run_cli("index", str(docs), check=False, SEMSEARCH_INDEX_WHEN_BUSY="refuse")
        second = run_cli("index", str(docs), "--json")
        out, errors = first.communicate(timeout=300)
    finally:
        stop_process(first)
    assert first.returncode == 0, errors
    assert refused.returncode == 2 and f"is being indexed by process {first.pid} " in refused.stderr
    assert f"waiting: collection 'default' is being indexed by process {first.pid} " in second.stderr
    a, b = json.loads(out), json.loads(second.stdout)
    assert a["files"]["added"] == 40 and b["files"]["unchanged"] == 40
    assert a["chunks"]["embedded"] == 40 and b["chunks"]["embedded"] == 0 and b["chunks"]["total"] == 40
