"""What every command shares: the Typer app, the global options, output helpers, error handling.

Global options (``--data-dir``, ``--json``, ``-v/--verbose``, ``--server``) are accepted before the
command (on the app's callback) and after it (each command gets them through :func:`command`).
Click has no notion of options that may appear on either side of a subcommand, so the decorator adds
the same ``typer.Option`` parameters to every command's signature - the documented Typer way to share
parameters - and merges them with the callback's values.

Heavy modules (torch, openvino, faiss, the library, the app) are imported inside the functions that
need them, so a command answered by a running server starts in a fraction of a second.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from app.client import Client
    from app.service import Service
    from app.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False, help="semsearch: search your own documents by meaning.")
out = Console(soft_wrap=True)  # long paths stay on one line (and greppable) when piped
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("semsearch")

# Exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_INTERNAL = 1  # an unexpected error: a bug (run with -v for the traceback)
EXIT_USAGE = 2  # bad usage, a bad setting, bad input or something not found; nothing was changed
EXIT_SERVER = 3  # the server or the store could not be reached or failed, or the disk is full
EXIT_INTERRUPTED = 130

COLLECTION_OPT = typer.Option(None, "--collection", "-c",
                              help="Collection name (default: SEMSEARCH_DEFAULT_COLLECTION)")
# Kept for commands that declare --json themselves; the global option fills them too.
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON")


@dataclass
class _State:
    data_dir: Path | None = None
    as_json: bool = False
    verbose: bool = False
    server: str | None = None
    settings_: Settings | None = None
    client_: Client | None = field(default=None, repr=False)
    client_resolved: bool = False
    service_: Service | None = field(default=None, repr=False)  # the front door, built on first use

    @property
    def settings(self) -> Settings:
        if self.settings_ is None:
            self.settings_ = load_settings()
        if self.data_dir is not None:
            self.settings_.data_dir = self.data_dir
        return self.settings_


state = _State()


# -- the global options -------------------------------------------------------------------------------
def _global_params() -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [
        inspect.Parameter("data_dir", kw, annotation=Path | None, default=typer.Option(
            None, "--data-dir", help="Data folder (SEMSEARCH_DATA_DIR, default ./data)")),
        inspect.Parameter("as_json", kw, annotation=bool, default=typer.Option(
            False, "--json", help="Print machine-readable JSON (the HTTP API's body)")),
        inspect.Parameter("verbose", kw, annotation=bool, default=typer.Option(
            False, "--verbose", "-v", help="Log more (and show tracebacks of unexpected errors)")),
        inspect.Parameter("server", kw, annotation=str | None, default=typer.Option(
            None, "--server", metavar="URL", help="Ask the server at this URL (SEMSEARCH_URL); 'none' never asks one")),
    ]


GLOBAL_NAMES = tuple(p.name for p in _global_params())


def set_globals(*, data_dir: Path | None = None, as_json: bool = False, verbose: bool = False,
                server: str | None = None) -> None:
    """Merge global options given at one position into the state (later positions win)."""
    if data_dir is not None:
        state.data_dir = data_dir
    state.as_json = state.as_json or as_json
    if verbose and not state.verbose:
        state.verbose = True
        configure_logging(True)
    if server is not None:
        state.server = server


def command(fn: Any) -> Any:
    """Make ``fn`` a command body: global options accepted after the command too, errors mapped to
    one line and an exit code. Use below ``@app.command()``; ``fn`` may declare ``as_json`` itself."""
    sig = inspect.signature(fn, eval_str=True)
    own = set(sig.parameters)
    extra = [p for p in _global_params() if p.name not in own]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in GLOBAL_NAMES if name in kwargs and name not in own}
        if "as_json" in own:
            given["as_json"] = kwargs["as_json"]
        set_globals(**given)
        if "as_json" in own:
            kwargs["as_json"] = state.as_json
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BaseException as e:  # the one place errors become exit codes
            raise typer.Exit(report_error(e)) from None

    params = list(sig.parameters.values()) + extra
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _main(**given: Any) -> None:
    """The app's callback: the global options given before the command, and the settings check."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    state.__init__()  # type: ignore[misc]  # a fresh start per invocation (tests invoke the app in-process)
    configure_logging(bool(given.get("verbose")))
    set_globals(**given)
    try:
        load_settings()  # every setting is checked before any command runs
    except BaseException as e:
        raise typer.Exit(report_error(e)) from None


_main.__signature__ = inspect.Signature(_global_params())  # type: ignore[attr-defined]
_main.__annotations__ = {p.name: p.annotation for p in _global_params()}
app.callback()(_main)


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    for noisy in ("sentence_transformers", "transformers", "ray"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def load_settings() -> Settings:
    from app.settings import Settings

    if state.settings_ is None:
        state.settings_ = Settings.load()
    return state.settings_


# -- errors ---------------------------------------------------------------------------------------------
def report_error(exc: BaseException) -> int:
    """Print one line for ``exc`` on stderr (the traceback too with -v) and return its exit code."""
    if isinstance(exc, BrokenPipeError):  # `semsearch query x | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_OK
    code, message = classify(exc)
    if code == EXIT_INTERNAL:
        if state.verbose:
            traceback.print_exception(exc, file=sys.stderr)
        else:
            message += " (run with -v for the traceback)"
    err.print(f"[red]error:[/red] {escape(message)}")
    return code


def classify(exc: BaseException) -> tuple[int, str]:
    """An exception's exit code and one-line message. Modules are only looked up once loaded: an
    exception of a module nobody imported cannot have been raised."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    errors = sys.modules.get("indexer.errors")
    if errors is not None and isinstance(exc, errors.StoreUnavailable | errors.DiskFull):
        return EXIT_SERVER, exc.message
    if errors is not None and isinstance(exc, errors.SemsearchError):
        return EXIT_USAGE, exc.message
    settings = sys.modules.get("app.settings")
    if settings is not None and isinstance(exc, settings.InvalidSettings):
        return EXIT_USAGE, str(exc)
    client = sys.modules.get("app.client")
    if client is not None and isinstance(exc, client.ServerError):
        return (EXIT_SERVER if exc.status >= 500 else EXIT_USAGE), exc.message
    if client is not None and isinstance(exc, client.ServerUnreachable):
        return EXIT_SERVER, str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_USAGE, f"{exc.strerror or exc}: {exc.filename}"
    return EXIT_INTERNAL, f"unexpected {type(exc).__name__}: {exc}"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def main() -> None:
    """The console script: no traceback reaches a user, whatever happens (one line + an exit code)."""
    try:
        app()
    except SystemExit:
        raise
    except BaseException as e:  # the top-level guard
        sys.exit(report_error(e))


# -- what a command runs on: a running server, or the library in this process ---------------------------
def remote(local: str = "loading the model") -> Client | None:
    """The server this command should ask, or None to run here (resolved once); ``local`` says
    what running here means, for -v."""
    if not state.client_resolved:
        from app.client import find_server

        state.client_ = find_server(state.settings, explicit=state.server)
        state.client_resolved = True
        if state.client_ is not None:
            log.info("using server %s", state.client_.url)
        else:
            log.info("no server; %s", local)
    return state.client_


def service(backend: str | None = None) -> Service:
    """The front door (``app.service``) for this command, built once: the store opens on first use
    and the model on first need, so commands that only read the store never load it. ``backend``
    (``--backend``) runs the model on another backend than SEMSEARCH_BACKEND."""
    from app.service import Service

    s = state.settings
    if backend is not None and backend != s.backend:
        return Service.from_settings(s.model_copy(update={"backend": backend}))
    if state.service_ is None:
        state.service_ = Service.from_settings(s)
    return state.service_
