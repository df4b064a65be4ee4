"""Domain errors with messages a person can act on.

Every error carries a stable ``code`` (for machines and the HTTP error table in ``app.main``), a
human ``message`` that names the thing and what to do, and optionally the request ``field`` it is
about. The HTTP layer maps classes to status codes; nothing here knows about HTTP.
"""

from __future__ import annotations


class SemsearchError(Exception):
    """Base class: ``code`` is stable, ``message`` is for people, ``field`` names the input."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(SemsearchError):
    """A value is out of range or malformed; nothing was changed."""

    code = "invalid_input"


class LimitExceeded(InvalidInput):
    """A value is over a configured limit (the message names the setting)."""

    code = "limit_exceeded"


class CollectionNotFound(SemsearchError):
    code = "collection_not_found"

    def __init__(self, name: str, available: list[str] | None = None) -> None:
        hint = f" Existing collections: {', '.join(available)}." if available else ""
        super().__init__(
            f"Collection {name!r} does not exist.{hint} Create it first "
            f"(`semsearch index PATH --collection {name}` or POST /collections).",
            field="collection",
        )
        self.name = name


class CollectionExists(SemsearchError):
    code = "collection_exists"

    def __init__(self, name: str) -> None:
        super().__init__(f"Collection {name!r} already exists.", field="name")
        self.name = name


class DocumentNotFound(SemsearchError):
    code = "document_not_found"

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"Document {doc_id!r} is not in this collection.", field="id")


class ModelMismatch(SemsearchError):
    """The collection was built with another model (or dimension) than the one loaded."""

    code = "model_mismatch"

    def __init__(self, collection: str, built_with: str, built_dim: int, loaded: str, loaded_dim: int) -> None:
        super().__init__(
            f"Collection {collection!r} was built with model {built_with!r} ({built_dim} dimensions), "
            f"but the loaded model is {loaded!r} ({loaded_dim} dimensions). Query it with "
            f"SEMSEARCH_MODEL={built_with!r}, or index into a new collection.",
            field="model",
        )


class PathNotAllowed(SemsearchError):
    code = "path_not_allowed"


class JobNotFound(SemsearchError):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} does not exist (jobs live in the server's memory).", field="id")


class CorruptCollection(SemsearchError):
    """The catalog itself (not the derived FAISS file) cannot be read."""

    code = "corrupt_collection"


class SourceNotFound(SemsearchError):
    """A search asks for documents like one the collection does not hold."""

    code = "source_not_found"

    def __init__(self, key: str, *, field: str = "like") -> None:
        super().__init__(f"{key!r} is neither a document id nor an indexed file's path in this collection "
                         "(files are named by their absolute path, as hits show them).", field=field)
