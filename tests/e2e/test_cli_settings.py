"""Settings are checked when the process starts: a bad SEMSEARCH_* value is one line naming the
variable, the value and what is allowed, exit 2, and nothing is created. Real processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.serving import SEMSEARCH, cli_env

BAD = [
    ("SEMSEARCH_INDEX_TYPE", "ivf", ["index", "{docs}"], "allowed values are flat, hnsw"),
    ("SEMSEARCH_PORT", "abc", ["collections"], "it must be an integer, at least 1 and at most 65535"),
    ("SEMSEARCH_PORT", "70000", ["serve"], "it must be an integer, at least 1 and at most 65535"),
    ("SEMSEARCH_BACKEND", "onnx", ["embed", "hello"], "allowed values are sentence-transformers, minimal"),
    ("SEMSEARCH_ENGINE", "gpu", ["query", "x"], "allowed values are auto, openvino, torch, encode"),
    ("SEMSEARCH_PRECISION", "fp16", ["compare", "a", "b"], "allowed values are auto, fp32, bf16, int8"),
    ("SEMSEARCH_FUSION", "max", ["query", "x"], "allowed values are relative, rrf"),
    ("SEMSEARCH_CHUNK_OVERLAP", "999", ["index", "{docs}"], "it must be an integer, at least 0 and at most 128"),
    ("SEMSEARCH_WORKERS", "0", ["serve"], "it must be an integer, at least 1 and at most 64"),
    ("SEMSEARCH_MAX_K", "-5", ["collections", "create", "x"], "it must be an integer, at least 1"),
]


@pytest.mark.parametrize(("var", "value", "args", "allowed"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_a_bad_setting_is_one_line_exit_2_and_nothing_is_created(tmp_path, var, value, args, allowed):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("some text to index")
    data = tmp_path / "data"
    argv = [a.format(docs=docs) for a in args]
    proc = subprocess.run([*SEMSEARCH, *argv], env=cli_env(data, **{var: value}), capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"error: {var}={value!r} is not valid: {allowed}"]
    assert proc.stdout == ""
    assert not data.exists()  # no collection, no data folder


def test_the_app_factory_under_uvicorn_fails_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", "1"],
                          env=cli_env(tmp_path / "data", SEMSEARCH_INDEX_TYPE="ivf"), capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert "SEMSEARCH_INDEX_TYPE='ivf' is not valid: allowed values are flat, hnsw" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()
