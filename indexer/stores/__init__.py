"""Where collections live: the Store interface (``base.py``) and one package per store (``embedded/``,
``qdrant/``)."""
