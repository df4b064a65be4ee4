"""Import hygiene of the library: light modules import without the heavy ones, and indexer/ neither
imports app/ nor reads the environment (configuration arrives as arguments)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

INDEXER = Path(__file__).resolve().parents[2] / "indexer"

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked for this test")
        return None
sys.meta_path.insert(0, Block())
"""


def _run(code: str, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=blocked) + code], capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_transformer_imports_and_runs_without_faiss_or_torch():
    code = """
import numpy as np
import indexer.transformer as t
from indexer.transformer import BertConfig, BertEncoder
cfg = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                 max_position_embeddings=16)
out = BertEncoder(cfg)(np.array([[1, 2, 3]]), np.array([[1, 1, 1]])).last_hidden_state
assert out.shape == (1, 3, 8), out.shape
print("ok", "faiss" in sys.modules, "torch" in sys.modules)
"""
    res = _run(code, {"faiss", "torch", "sentence_transformers", "openvino"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["ok", "False", "False"]


def test_the_block_is_real():
    """The hook does stop faiss: the collection module (which needs it) fails to import under it."""
    res = _run("import indexer.collection", {"faiss"})
    assert res.returncode != 0 and "faiss is blocked" in res.stderr


def test_package_names_still_resolve_on_first_use():
    res = _run("import indexer\nprint(indexer.Collection.__module__, indexer.l2_normalize.__module__)", set())
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["indexer.collection", "indexer.embedding.normalize"]


def _library_files() -> list[Path]:
    return sorted(INDEXER.rglob("*.py"))


def test_the_library_reads_no_environment_and_never_imports_app():
    offenders: list[str] = []
    for path in _library_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(INDEXER.parent)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"} and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                offenders.append(f"{where} os.{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "app":
                offenders.append(f"{where} from {node.module} import")
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "app" for a in node.names):
                offenders.append(f"{where} import app")
    assert len(_library_files()) > 20  # the scan sees the whole package
    assert offenders == []
