"""The ``semsearch`` command line: the same operations as the HTTP API, on the same library.

Every command takes the global options (``--data-dir``, ``--json``, ``-v``, ``--server``) before or
after its name; ``--json`` prints machine-readable output on stdout (the HTTP API's body where the
command has a route), progress and logs go to stderr. Settings come from SEMSEARCH_* environment
variables, checked before any command runs; flags override them.

One module per command group; :mod:`app.cli.common` holds what they share.
"""

from app.cli import collections, indexing, search, server, texts  # noqa: F401  (each registers its commands)
from app.cli.common import app, main

__all__ = ["app", "main"]
