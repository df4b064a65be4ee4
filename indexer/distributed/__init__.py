"""Indexing past one machine's cores: :mod:`indexer.distributed.ray_index` runs the read -> chunk ->
embed stages of a folder sync on a pool of Ray actors (``pip install 'semsearch[ray]'``). Nothing here
is imported by the rest of the library: without Ray installed every other path works unchanged."""
