"""The README's examples, run top to bottom against a live ``semsearch serve``, so they cannot drift.

Which blocks run (DEVELOPERS.md, "README examples"): every ```sh and ```python block, in order, unless
the line before its fence is ``<!-- readme-test: skip (why) -->``. Other languages (bash, console, json)
are shown, never run. The sh blocks run in one bash session (so variables carry over) with ``set -e``
and a ``curl`` that fails on an HTTP error; a ``[VAR=value ...] semsearch serve`` line (re)starts the
server with those settings. The server is the README's ``make run``: ./data under the working folder,
127.0.0.1 on a free port instead of 8000, and ``docker/`` next to it as in a clone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.serving import REPO, free_port

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*readme-test:\s*skip\b.*-->\s*$")
SERVE = re.compile(r"^((?:[A-Z_][A-Z0-9_]*=\S+\s+)*)semsearch serve\s*(#.*)?$")
RUNNABLE = ("sh", "python")


@dataclass
class Block:
    lang: str
    line: int  # of the opening fence, 1-based
    text: str


def runnable_blocks(markdown: str) -> list[Block]:
    """The README's runnable blocks, in order (see the module docstring for the rules)."""
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
_serve() {  # the README's `semsearch serve`, in the background; the settings come from the line's VAR=value
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


def script(blocks: list[Block], port: int, folder: Path) -> str:
    """One bash script: the preamble, then each block (python blocks as files it runs)."""
    parts = [PREAMBLE]
    for n, b in enumerate(blocks):
        text = b.text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        parts.append(f'echo "=== README.md line {b.line} ({b.lang})"')
        if b.lang == "python":
            (folder / f"readme_block_{n}.py").write_text(text + "\n")
            parts.append(f"python readme_block_{n}.py")
        else:
            parts += [SERVE.sub(lambda m: f"{m.group(1)}_serve", line) for line in text.splitlines()]
    return "\n".join(parts) + "\n"


def test_extraction_follows_the_markers():
    md = "\n".join([
        "```sh", "echo one", "```", "<!-- readme-test: skip (needs a GPU) -->", "", "```sh", "echo two", "```",
        "```bash", "make run", "```", "```python", "print(3)", "```", "```", "plain", "```", "```json", "{}", "```"])
    found = [(b.lang, b.line, b.text) for b in runnable_blocks(md)]
    assert found == [("sh", 1, "echo one"), ("python", 12, "print(3)")]
    s = script([Block("sh", 1, "SEMSEARCH_API_KEYS=a,b semsearch serve\ncurl http://127.0.0.1:8000/x")], 9, Path("."))
    assert "SEMSEARCH_API_KEYS=a,b _serve\ncurl http://127.0.0.1:9/x" in s


def test_readme_examples_run_in_order(tmp_path):
    blocks = runnable_blocks((REPO / "README.md").read_text())
    assert sum(b.lang == "sh" for b in blocks) >= 10 and any(b.lang == "python" for b in blocks)
    (tmp_path / "docker").symlink_to(REPO / "docker")  # the folder the examples index, as in a clone
    port = free_port()
    (tmp_path / "readme.sh").write_text(script(blocks, port, tmp_path))
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"], "SEMSEARCH_PORT": str(port),
           "SEMSEARCH_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("SEMSEARCH_API_KEYS", None)
    proc = subprocess.run(["bash", "readme.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    log = (tmp_path / "serve.log").read_text(errors="replace") if (tmp_path / "serve.log").exists() else ""
    assert proc.returncode == 0, f"a README example failed:\n{out[-6000:]}\n--- server log ---\n{log[-3000:]}"
    # What the examples promise: the folder indexed, the glob and metadata filters find their hits.
    assert '"state":"succeeded"' in out
    answer = lambda query: out.split(f'"query":"{query}"', 1)[1].split("\n", 1)[0]  # noqa: E731  (one JSON line)
    assert "bicycle-maintenance.txt" in answer("tyre pressure")
    assert '"id":"doc-1"' in answer("sourdough")
