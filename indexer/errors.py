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
            f"(`semsearch collections create {name}`, `semsearch index PATH --collection {name}` "
            "or POST /collections).",
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
            f"SEMSEARCH_MODEL={built_with!r}, re-index it with this model (semsearch collections reindex, "
            "Qdrant store), or index into a new collection.",
            field="model",
        )


class PathNotAllowed(SemsearchError):
    code = "path_not_allowed"


class JobNotFound(SemsearchError):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} does not exist (finished jobs are kept: the last 200).", field="id")


class CorruptCollection(SemsearchError):
    """The catalog itself (not the derived FAISS file) cannot be read."""

    code = "corrupt_collection"
    #: Whether the message may reach a client: a damaged catalog's names files on the server (kept in
    #: the log), a subclass whose message names only the collection and its file names says so.
    public_message = False


def damaged_catalog(name: str, exc: Exception) -> CorruptCollection:
    """The error for a collection whose catalog cannot be read (it names no path: it may reach a client)."""
    return CorruptCollection(
        f"Collection {name!r} cannot be read: its catalog is damaged ({exc}). Restore it from a snapshot "
        f"(`semsearch snapshot restore {name} SNAPSHOT`) or delete it (`semsearch collections delete {name}`, "
        f"DELETE /collections/{name}) and index again.", field="collection")


class CatalogBehindIndex(CorruptCollection):
    """The vector file reflects writes the catalog does not hold: the catalog lost committed data."""

    code = "catalog_behind_index"

    def __init__(self, collection: str, catalog_seq: int, index_seq: int) -> None:
        super().__init__(
            f"Collection {collection!r}: its catalog is at write {catalog_seq} but its vector file reflects "
            f"write {index_seq}, so the catalog has lost committed writes (it was copied or restored without "
            "its catalog.sqlite3-wal file, or from an older backup). Nothing was changed and the vectors are "
            "kept. Recover by putting the matching catalog.sqlite3-wal back beside catalog.sqlite3, or by "
            "restoring a snapshot (`semsearch snapshot restore`); to accept the loss instead, delete "
            "vectors.faiss and open the collection again (it is rebuilt from the catalog).",
            field="collection")
        self.catalog_seq = catalog_seq
        self.index_seq = index_seq


class DiskFull(SemsearchError):
    """The disk (or quota) holding the data folder is full. The write that met it was not made (a
    transaction is whole or nothing); what was committed before stays, and writes work again once
    space is freed."""

    code = "disk_full"

    def __init__(self, data_dir: object, what: str, cause: BaseException | None = None) -> None:
        why = f" ({cause})" if cause is not None else ""
        super().__init__(
            f"The disk holding the data folder {data_dir} is full{why}: {what} failed, and nothing of it "
            "was kept; everything written before is intact. Free space on that disk - old "
            f"snapshots in {data_dir}/snapshots, collections you no longer need (`semsearch collections "
            "delete NAME`), or other files on the same disk - then retry.")
        self.data_dir = data_dir


class CatalogWalMissing(CorruptCollection):
    """Acknowledged writes were still only in ``catalog.sqlite3-wal`` (a delayed checkpoint, or one
    that could not finish) and that file is gone or older: refuse rather than open without them."""

    code = "catalog_wal_missing"
    public_message = True  # the client needs the recovery advice; it names no path

    def __init__(self, collection: str, catalog_seq: int, acknowledged_seq: int) -> None:
        super().__init__(
            f"Collection {collection!r}: writes up to {acknowledged_seq} were acknowledged, but its catalog "
            f"holds writes up to {catalog_seq} only. The others were still in catalog.sqlite3-wal, which is "
            "missing or older than the catalog (the folder was copied or restored without it after a crash). "
            "Nothing was changed. Recover by putting the catalog.sqlite3-wal that belongs with this catalog "
            f"back beside catalog.sqlite3, or by restoring a snapshot (`semsearch snapshot restore {collection} "
            "SNAPSHOT`); to accept the loss instead, delete catalog.sqlite3-acked and open the collection "
            "again.", field="collection")
        self.catalog_seq = catalog_seq
        self.acknowledged_seq = acknowledged_seq


class SnapshotNotFound(SemsearchError):
    code = "snapshot_not_found"

    def __init__(self, collection: str, name: str) -> None:
        super().__init__(f"Collection {collection!r} has no snapshot {name!r}; list them with GET "
                         f"/collections/{collection}/snapshots or `semsearch snapshot list {collection}`.",
                         field="snapshot")


class BadSnapshot(InvalidInput):
    """The file is not a snapshot this version can restore, or it fails its checksums."""

    code = "bad_snapshot"


class SourceNotFound(DocumentNotFound):
    """No file or document with this id (a file's id is its path) in the collection; ``field`` says
    which request field named it (``id`` for a passage lookup, ``like`` for more-like-this)."""

    code = "source_not_found"

    def __init__(self, source_id: str, kind: str | None = None, *, field: str = "id") -> None:
        what = {"file": "File", "doc": "Document"}.get(kind or "", "No file or document")
        if kind:
            message = f"{what} {source_id!r} is not in this collection."
        elif field == "like":
            message = (f"{source_id!r} is neither a document id nor an indexed file's path in this collection "
                       "(files are named by their absolute path, as hits show them).")
        else:
            message = (f"{what} with id {source_id!r} is in this collection (a file's id is its path, "
                       "as search hits give it).")
        SemsearchError.__init__(self, message, field=field)


class StoreUnavailable(SemsearchError):
    """The store (a Qdrant server) cannot be reached or refused what was asked; the message names the
    URL or path, what failed and what to do. A write that fails this way left no half-written source."""

    code = "store_unavailable"


class CollectionBusy(SemsearchError):
    """The collection is in use by work that excludes this request: jobs before a restore, or another
    process (or job) indexing it (see ``Store.indexing_lock``)."""

    code = "collection_busy"


class Reindexing(SemsearchError):
    """A write arrived while the collection is being re-indexed (indexer/reindex.py); nothing was changed."""

    code = "collection_busy"

    def __init__(self, collection: str, model: str, by: str) -> None:
        super().__init__(f"Collection {collection!r} is being re-indexed with model {model!r} (by {by}); "
                         "searches go on, writes are refused until it finishes: retry then.")


class NotSupported(SemsearchError):
    """This store cannot do what was asked (the message says which store does)."""

    code = "not_supported"


class RayUnavailable(SemsearchError):
    """Indexing on Ray cannot run: Ray is not installed, the cluster cannot be reached, or an actor failed."""

    code = "ray_unavailable"
