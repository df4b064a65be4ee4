"""The folder-sync recipe: bring a collection in line with a folder.

walk the folder -> compare each file with what the catalog knows (size and mtime, then sha256) ->
read and chunk the new and changed files -> embed and commit them in batches of at most
``Limits.batch_chunks`` chunks, and at least every ``Limits.commit_seconds`` -> drop the files that
are gone -> checkpoint the vector index. The whole run holds the collection's indexing lock
(``Store.indexing_lock``): a second run of the same collection, from another process or a server's
job, waits for it (or is refused, ``Limits.when_busy``) and then finds the work done.

Committing by time as well as by size: a batch is as many chunks as the model embeds in
``commit_seconds`` at the rate measured so far (the first batch is one forward pass, to measure it),
capped at ``batch_chunks``; and whatever is pending is committed once ``commit_seconds`` have passed
since the last commit. So a Ctrl-C or a kill loses at most the last few seconds of work, whatever the
machine's speed; a big file is committed in pieces (``SourceWrite.partial``/``append``) and resumed.

Duplicates: a file with the content of one stored or queued whole is stored as a copy of it
(``copies.py``).

Unchanged files cost no reading and no embedding. The folder is streamed: no list of its files is
kept; what is known of previously indexed files is held as small tuples that shrink as files are
seen, and what is left at the end was deleted. Walking itself (and every skip reason) lives in
:mod:`indexer.walk`; committing a batch in :meth:`Collection.commit`.

The recipe is :class:`FolderSync` in ``recipe.py``; what a run reports (``IndexReport``, ``Progress``)
is in ``report.py``; duplicates in ``copies.py``. :mod:`indexer.distributed.ray_index` runs the same
recipe with its reading and embedding on Ray actors.
"""

from indexer.embedding.batches import forward_passes
from indexer.sync.recipe import FolderSync, SyncTarget, _Piece
from indexer.sync.report import IndexReport, Progress
from indexer.walk import Candidate, Skipped, read_candidate, walk

__all__ = ["Candidate", "FolderSync", "IndexReport", "Progress", "Skipped", "SyncTarget", "_Piece", "forward_passes",
           "read_candidate", "walk"]
