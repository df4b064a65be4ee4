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
    """The hook does stop faiss: the embedded store's vector index (which needs it) fails under it."""
    res = _run("from indexer.stores.embedded.vectors import VectorIndex\nVectorIndex(4, 'flat')", {"faiss"})
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


# -- import cycles ---------------------------------------------------------------------------------------
# The graph is built from the source (no imports run): an edge A -> B for each import at module level,
# in module-level ``if``/``try``/``with`` blocks (``if TYPE_CHECKING:`` included: a loop kept only for
# the type checker is still a loop a reader has to untangle, and a protocol breaks it) and class bodies.
# Excluded, on purpose: imports inside functions (they run late, when both modules are loaded).
# ``from P import name`` is an edge to ``P.name`` when that is a module,
# else to ``P``; the implicit import of a module's parent packages is not an edge (a package's
# ``__init__`` importing its own modules is how packages work, not a loop).
ROOT = INDEXER.parent
PACKAGES = ("app", "indexer")


def _module_files() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _module_imports(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            found += _module_imports(node.body) + _module_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                found += _module_imports(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            found += _module_imports(node.body)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of app/ and indexer/ it imports when it is imported."""
    files = _module_files()
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _module_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            graph[mod] |= {t for t in targets if t in files and t != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def _unit(module: str) -> str:
    """The package one level below app/ or indexer/ that holds ``module`` (indexer.stores.embedded.catalog ->
    indexer.stores), or the module itself when it sits at that level (indexer.collection)."""
    return ".".join(module.split(".")[:2])


def test_the_import_graph_is_read_whole():
    graph = import_graph()
    assert len(graph) > 80 and {"indexer.collection", "indexer.stores.base", "app.main"} <= set(graph)
    assert "indexer.stores.base" in graph["indexer.collection"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_through_others():
    assert _cycles(import_graph()) == []


def test_no_two_packages_import_each_other():
    """The same at the level of app/'s and indexer/'s packages and top modules (indexer.search, indexer.stores,
    indexer.collection, app.routes ...): no loop like search -> stores -> search."""
    units: dict[str, set[str]] = {}
    for mod, deps in import_graph().items():
        units.setdefault(_unit(mod), set()).update(_unit(d) for d in deps if _unit(d) != _unit(mod))
    assert _cycles(units) == []


def test_the_ranking_package_speaks_only_the_store_interface():
    """indexer/search/ imports no concrete store (not even for type checking) and no SQL driver: each store
    translates the store-neutral filters and queries itself (indexer/stores/<store>/)."""
    offenders = []
    for path in sorted((INDEXER / "search").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names  # type: ignore[attr-defined]
                          if n.split(".")[0] == "sqlite3" or
                          (n.startswith("indexer.stores") and n != "indexer.stores.base")]
    assert offenders == []
