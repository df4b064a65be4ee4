"""What the command line says while it works (stderr, also with --json), and odd file names."""

from __future__ import annotations

import json

from tests.indexer.test_sync import make_bad_name_folder
from tests.serving import as_json


def test_index_says_it_loads_the_model_at_the_first_chunk_to_embed_and_copes_with_a_non_utf8_name(tmp_path, run_cli):
    root = tmp_path / "bn"
    make_bad_name_folder(root)
    proc = run_cli("index", str(root), "--json")
    report = as_json(proc)
    assert report["files"]["added"] == 2 and report["skipped"] == []
    lines = proc.stderr.splitlines()
    loading = next(i for i, line in enumerate(lines) if line.startswith("loading the model"))
    walking = next(i for i, line in enumerate(lines) if line.startswith("walking:"))
    indexing = next(i for i, line in enumerate(lines) if line.startswith("indexing:"))
    done = next(i for i, line in enumerate(lines) if line.startswith("done: 2/2 files"))
    assert walking < indexing < loading < done
    again = run_cli("index", str(root), "--json")  # nothing changed: nothing to embed, no model
    assert as_json(again)["files"]["unchanged"] == 2 and "loading the model" not in again.stderr
    hits = as_json(run_cli("query", "lava", "--json", "--mode", "keyword"))["hits"]
    assert [h["path"] for h in hits] == [str(root) + "/bad_\\xff.txt"]


def test_eval_json_reports_progress_on_stderr(tmp_path, run_cli):
    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "Penguins live in Antarctica.", "d2": "Lava flows from volcanoes.", "d3": "Tea is brewed hot."}
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": "", "text": v}) + "\n"
                                               for k, v in docs.items()))
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "where do penguins live"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    proc = run_cli("eval", str(beir), "--json", "--mode", "dense")
    assert json.loads(proc.stdout)["dense"]["queries"] == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("loading the model")
    assert "index: 0/3" in lines and "index: 3/3" in lines and "dense: 1/1" in lines
