"""Write the generated parts of the reference in docs/: the HTTP API from the OpenAPI schema, the CLI
from the Typer app, the settings from ``Settings``. Run it with ``make docs``; ``--check`` prints what
is stale and exits 1 instead of writing (tests/docs/test_generated_docs.py runs that check).

Each generated part sits between two markers in its file (``<!-- BEGIN GENERATED: api ... -->`` and
``<!-- END GENERATED: api -->``); the prose around them is written by hand. Everything is built with
the default settings and no environment, so the output is the same on every machine. Building the app
loads no model (the model loads in the app's lifespan, which ``openapi()`` never starts).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

GLOBAL_OPTIONS = {"data_dir", "as_json", "verbose", "server"}  # shown once, not under every command


@contextmanager
def no_environment() -> Iterator[None]:
    """Default settings only: no SEMSEARCH_* variable and no .env file shapes the output."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SEMSEARCH_")}
    for k in saved:
        del os.environ[k]
    try:
        yield
    finally:
        os.environ.update(saved)


def cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


# ---- the HTTP API, from the OpenAPI schema ---------------------------------------------------------

def openapi() -> dict[str, Any]:
    from app.main import create_app
    from app.settings import Settings

    with no_environment():
        return create_app(Settings(_env_file=None)).openapi()


def type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        kinds = [type_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        nullable = any(s.get("type") == "null" for s in schema["anyOf"])
        return " or ".join(kinds) + (" or null" if nullable else "")
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    return str(kind)


def limits_of(schema: dict[str, Any]) -> str:
    parts = [type_of(schema)]
    for s in [schema, *schema.get("anyOf", [])]:
        for key, word in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"),
                          ("exclusiveMaximum", "<"), ("minLength", "length >="), ("maxLength", "length <="),
                          ("minItems", "items >="), ("maxItems", "items <=")):
            if key in s:
                value = s[key]
                parts.append(f"{word} {int(value) if float(value).is_integer() else value}")
    return ", ".join(parts)


def default_of(schema: dict[str, Any]) -> str:
    return f"`{json.dumps(schema['default'])}`" if "default" in schema and schema["default"] is not None else ""


def api_reference() -> str:
    spec = openapi()
    schemas = spec["components"]["schemas"]
    out: list[str] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            out += ["", f"### {method.upper()} `{path}`", "", op.get("summary", "").strip(), "",
                    f"operationId: `{op['operationId']}`"]
            params = op.get("parameters", [])
            if params:
                out += ["", "| parameter | in | type and limits | default | meaning |", "|---|---|---|---|---|"]
                for p in params:
                    s = p.get("schema", {})
                    name = f"`{p['name']}`" + (" (required)" if p.get("required") else "")
                    out.append(f"| {name} | {p['in']} | {cell(limits_of(s))} | {cell(default_of(s))} | "
                               f"{cell(p.get('description', s.get('description', '')))} |")
            body = op.get("requestBody", {}).get("content", {})
            if body:
                media, content = next(iter(body.items()))
                out += ["", f"Body ({media}): {type_of(content.get('schema', {}))}"]
            answers = []
            for status, response in op.get("responses", {}).items():
                media_types: dict[str, Any] = response.get("content", {})
                first: dict[str, Any] = next(iter(media_types.values()), {})
                schema = first.get("schema")
                if status.startswith("2"):
                    answers.append(f"{status} " + (type_of(schema) if schema else cell(response.get("description"))))
            errors = [s for s in op.get("responses", {}) if not s.startswith("2")]
            out += ["", "Answers: " + "; ".join(answers) + (f"; errors {', '.join(errors)}" if errors else "")]
    out += ["", "## Schemas"]
    for name, schema in schemas.items():
        out += ["", f"### {name}", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        props = schema.get("properties", {})
        if not props:
            out.append(f"{type_of(schema)}")
            continue
        required = set(schema.get("required", []))
        out += ["| field | type and limits | default | meaning |", "|---|---|---|---|"]
        for field, s in props.items():
            label = f"`{field}`" + (" (required)" if field in required else "")
            out.append(f"| {label} | {cell(limits_of(s))} | {cell(default_of(s))} | {cell(s.get('description', ''))} |")
    return "\n".join(out).strip() + "\n"


# ---- the CLI, from the Typer app -----------------------------------------------------------------

def cli_reference() -> str:
    import typer.main

    from app.cli import app

    root = typer.main.get_command(app)
    context = type(root.make_context("semsearch", [], resilient_parsing=True))
    out: list[str] = []

    def rows(command: Any, ctx: Any, skip: set[str]) -> list[str]:
        lines = []
        for p in command.params:
            if p.name in skip or getattr(p, "hidden", False):
                continue
            record = p.get_help_record(ctx)
            if record is None:
                continue
            names, meaning = record
            lines.append(f"| `{cell(names)}` | {cell(meaning)} |")
        return lines

    def walk(command: Any, path: str, parent: Any) -> None:
        ctx = context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        usage = " ".join([path, *command.collect_usage_pieces(ctx)])
        heading = "## Global options" if parent is None else f"### `{path}`"
        out.extend(["", heading, "", " ".join((command.help or "").split()), "", "```text", usage, "```"])
        params = rows(command, ctx, set() if parent is None else GLOBAL_OPTIONS)
        if params:
            out.extend(["", "| argument or option | meaning |", "|---|---|", *params])
        if parent is None:
            out.extend(["", "## Commands"])
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    walk(root, "semsearch", None)
    return "\n".join(out).strip() + "\n"


# ---- the settings, from Settings -----------------------------------------------------------------

def settings_reference() -> str:
    from app.settings import ENV_PREFIX, Settings, _choices

    out = ["| variable | default | allowed | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "empty" if field.default_factory is not None or field.default in ("", None) else f"`{field.default}`"
        if isinstance(field.default, Path) and not field.default.is_absolute():
            default = f"`./{field.default}`"
        choices = _choices(field.annotation)
        bounds = [f"{word} {getattr(m, key)}" for m in field.metadata
                  for key, word in (("ge", ">="), ("le", "<="), ("min_length", "length >="))
                  if getattr(m, key, None) is not None]
        allowed = " \\| ".join(f"`{c}`" for c in choices) if choices else ", ".join(bounds)
        out.append(f"| `{ENV_PREFIX}{name.upper()}` | {cell(default)} | {allowed} | {cell(field.description or '')} |")
    return "\n".join(out) + "\n"


# ---- writing -------------------------------------------------------------------------------------

PARTS: dict[str, tuple[str, Callable[[], str]]] = {
    "api": ("api.md", api_reference),
    "cli": ("cli.md", cli_reference),
    "settings": ("configuration.md", settings_reference),
}


def begin(part: str) -> str:
    return f"<!-- BEGIN GENERATED: {part} (docs/generate.py; run `make docs`, do not edit by hand) -->"


def end(part: str) -> str:
    return f"<!-- END GENERATED: {part} -->"


def render(text: str, part: str, generated: str) -> str:
    """``text`` with its ``part`` between the markers replaced by ``generated``."""
    pattern = re.compile(re.escape(begin(part)) + r"\n.*?" + re.escape(end(part)), re.S)
    if not pattern.search(text):
        raise SystemExit(f"the markers of the generated part {part!r} are missing")
    return pattern.sub(lambda _: f"{begin(part)}\n\n{generated}\n{end(part)}", text, count=1)


def stale() -> dict[Path, str]:
    """Every docs file whose generated part differs from what the code gives now, with its new text."""
    changed: dict[Path, str] = {}
    for part, (file, make) in PARTS.items():
        path = DOCS / file
        old = changed.get(path, path.read_text())
        new = render(old, part, make())
        if new != path.read_text():
            changed[path] = new
    return changed


def main(argv: list[str]) -> int:
    changed = stale()
    if "--check" in argv:
        for path in changed:
            print(f"{path.relative_to(REPO)} is stale: run `make docs`")
        return 1 if changed else 0
    for path, text in changed.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
