"""``python -m bench --child-index FOLDER DATA_DIR REPEATS``: the indexing child of the ``index`` section
(the benchmark itself runs as ``semsearch bench``)."""

import sys

from bench.index import main

main(sys.argv[1:])
