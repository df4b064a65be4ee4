"""The examples of README.md and docs/*.md, run top to bottom against a live ``semsearch serve``, so
they cannot drift.

Which blocks run (DEVELOPERS.md, "Docs examples"): every ```sh and ```python block, in order, unless
the line before its fence is ``<!-- readme-test: skip (why) -->``. Other languages (bash, console,
json, text) are shown, never run. Each file runs on its own: its own working folder, data folder and
server, and its sh blocks in one bash session (so variables carry over) with ``set -e`` and a
``curl`` that fails on an HTTP error; a ``[VAR=value ...] semsearch serve`` line (re)starts the
server with those settings. The server is the README's ``make run``: ./data under the working
folder, 127.0.0.1 on a free port instead of 8000, and ``docker/`` next to it as in a clone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import REPO, free_port

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\b.*-->\s*$")
SERVE = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=\S+\s+)*)semsearch serve\s*(#.*)?$")
RUNNABLE = ("sh", "python")
#: Every page a user reads, README first.
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]


@dataclass
class Block:
    lang: str
    line: int  # of the opening fence, 1-based
    text: str


def runnable_blocks(markdown: str) -> list[Block]:
    """A page's runnable blocks, in order (see the module docstring for the rules)."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start, lang = i, m.group(1)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        if lang in RUNNABLE and not SKIP.match(before):
            blocks.append(Block(lang, start + 1, "\n".join(lines[start + 1 : end])))
        i = end + 1
    return blocks


PREAMBLE = r"""set -eu  # not pipefail: `curl | grep -q` may end curl early, as it does in a reader's shell
curl() { command curl --fail-with-body -sS --max-time 120 "$@"; echo; }
_serve() {  # the docs' `semsearch serve`, in the background; the settings come from the line's VAR=value
  if [ -n "${_SERVER:-}" ]; then kill "$_SERVER"; wait "$_SERVER" 2>/dev/null || true; fi
  semsearch serve --host 127.0.0.1 --port "$SEMSEARCH_PORT" >> serve.log 2>&1 &
  _SERVER=$!
  until command curl -sf "http://127.0.0.1:$SEMSEARCH_PORT/readyz" > /dev/null; do
    kill -0 "$_SERVER" || { echo "semsearch serve exited; its log:"; cat serve.log; exit 1; }
    sleep 0.3
  done
}
trap 'if [ -n "${_SERVER:-}" ]; then kill "$_SERVER"; fi' EXIT
_serve  # make run
"""


def script(blocks: list[Block], port: int, folder: Path, page: str = "README.md") -> str:
    """One bash script: the preamble, then each block (python blocks as files it runs)."""
    parts = [PREAMBLE]
    for n, b in enumerate(blocks):
        text = b.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        parts.append(f'echo "=== {page} line {b.line} ({b.lang})"')
        if b.lang == "python":
            (folder / f"block_{n}.py").write_text(text + "\n")
            parts.append(f"python block_{n}.py")
        else:
            parts += [SERVE.sub(lambda m: f"{m.group(1)}_serve", line) for line in text.splitlines()]
    return "\n".join(parts) + "\n"


def test_extraction_follows_the_markers():
    md = "\n".join([
        "```sh", "echo one", "```", "<!-- readme-test: skip (needs a GPU) -->", "", "```sh", "echo two", "```",
        "```bash", "make run", "```", "```python", "print(3)", "```", "```", "plain", "```", "```json", "{}", "```",
        "```text", "semsearch [OPTIONS]", "```"])
    found = [(b.lang, b.line, b.text) for b in runnable_blocks(md)]
    assert found == [("sh", 1, "echo one"), ("python", 12, "print(3)")]
    s = script([Block("sh", 1, "SEMSEARCH_API_KEYS=a,b semsearch serve\ncurl http://127.0.0.1:8000/x")], 9, Path("."))
    assert "SEMSEARCH_API_KEYS=a,b _serve\ncurl http://127.0.0.1:9/x" in s


def test_the_pages_have_examples_to_run():
    blocks = [b for page in PAGES for b in runnable_blocks((REPO / page).read_text())]
    assert sum(b.lang == "sh" for b in blocks) >= 10 and any(b.lang == "python" for b in blocks)
    assert runnable_blocks((REPO / "README.md").read_text()), "the README's quick start runs as a test"


def answer(out: str, query: str) -> str:
    """The JSON line of the query answer for ``query`` in the script's output."""
    return out.split(f'"query":"{query}"', 1)[1].split("\n", 1)[0]


#: What a page's examples promise, beyond running without an error.
PROMISES = {
    "README.md": lambda out: '"id":"bread"' in answer(out, "how long should dough rise"),
    # the folder indexed, the glob and metadata filters find their hits
    "docs/api.md": lambda out: ('"state":"succeeded"' in out
                                and "bicycle-maintenance.txt" in answer(out, "tyre pressure")
                                and '"id":"doc-1"' in answer(out, "sourdough slow rise")),
}


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks((REPO / p).read_text())])
def test_examples_run_in_order(page, tmp_path):
    blocks = runnable_blocks((REPO / page).read_text())
    (tmp_path / "docker").symlink_to(REPO / "docker")  # the folder the examples index, as in a clone
    port = free_port()
    (tmp_path / "examples.sh").write_text(script(blocks, port, tmp_path, page))
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "SEMSEARCH_PORT": str(port),
           "SEMSEARCH_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    for setting in ("SEMSEARCH_API_KEYS", "SEMSEARCH_API_KEY", "SEMSEARCH_URL"):  # a reader's shell has none
        env.pop(setting, None)
    proc = subprocess.run(["bash", "examples.sh"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    log = (tmp_path / "serve.log").read_text(errors="replace") if (tmp_path / "serve.log").exists() else ""
    assert proc.returncode == 0, f"an example of {page} failed:\n{out[-6000:]}\n--- server log ---\n{log[-3000:]}"
    promise = PROMISES.get(page)
    assert promise is None or promise(out), f"{page}'s examples ran but did not find what they show:\n{out[-6000:]}"
