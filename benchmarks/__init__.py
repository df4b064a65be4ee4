"""The project's benchmarks: ``suite/`` is ``semsearch bench``; the other files are scripts run from a clone.

Not installed with the package (the wheel holds ``app`` and ``indexer`` only): ``semsearch bench``
imports ``benchmarks.suite`` from the source tree next to the installed ``app`` (see
``app/cli/server.py``), and the scripts are run as ``.venv/bin/python benchmarks/NAME.py``.
"""
