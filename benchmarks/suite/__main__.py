"""``python -m benchmarks.suite --child-index FOLDER DATA_DIR REPEATS``: the indexing child of the ``index`` section
(the benchmark itself runs as ``semsearch bench``)."""

import sys

from benchmarks.suite.index import main

main(sys.argv[1:])
