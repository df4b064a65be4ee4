"""All configuration in one object: environment variables prefixed ``SEMSEARCH_`` (or a ``.env`` file).

The CLI and the HTTP service build the same ``Settings``; command-line flags override fields.
Every field is typed (choices are ``Literal`` enums, numbers carry their ranges) and checked when the
process starts: :meth:`Settings.load` turns a bad value into :class:`InvalidSettings`, whose message
names the variable, the value and what is allowed, one line per bad variable.

Importing this module loads no library code (the CLI's remote path stays fast).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.limits import DEFAULT_MAX_K, DEFAULT_MAX_QUERY_CHARS, MIN_K

if TYPE_CHECKING:
    from indexer.collection import Limits

ENV_PREFIX = "SEMSEARCH_"
SETUP_HEADER = "X-Semsearch-Setup"  # /readyz: the server's Settings.fingerprint() (see app.client)
# The library's choices (tests/app/test_settings.py checks they match indexer's own tuples).
Backend = Literal["sentence-transformers", "minimal"]
Engine = Literal["auto", "openvino", "torch", "encode"]
Precision = Literal["auto", "fp32", "bf16", "int8"]
WhenBusy = Literal["wait", "refuse"]
IndexType = Literal["flat", "hnsw"]
Fusion = Literal["relative", "rrf"]
StoreKind = Literal["embedded", "qdrant", "postgres"]
# The stores of an optional extra (named like the store): where their backend is, and what the extra brings.
OPTIONAL_STORES = {"qdrant": ("indexer.stores.qdrant", "QdrantBackend", "the Qdrant client"),
                   "postgres": ("indexer.stores.postgres", "PostgresBackend", "psycopg and pgvector")}
PostgresReads = Literal["primary", "synchronous", "standby"]
VectorType = Literal["vector", "halfvec"]


class InvalidSettings(ValueError):
    """One or more SEMSEARCH_* values are not valid; the message has one line per variable."""

# The model loads from a local folder; transformers must never try the hub (set before it is imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def model_cache_dir(setting: str = "") -> Path | None:
    """Where converted model graphs are kept: ``setting`` (SEMSEARCH_MODEL_CACHE), else
    ``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``; ``off`` (or no home folder): no cache."""
    raw = setting.strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        return (Path(xdg) if xdg else Path.home() / ".cache") / "semsearch"
    except RuntimeError:  # no home folder to be found: no cache
        return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    # storage and model
    data_dir: Path = Field(Path("./data"), description="Folder holding collections (SQLite + FAISS files)")
    model: str = Field("sentence-transformers/all-MiniLM-L6-v2",
                       description="Embedding model: the bundled default, or a local sentence-transformers folder")
    backend: Backend = Field("sentence-transformers", description="sentence-transformers | minimal (NumPy)")
    precision: Precision = Field("auto", description="auto (bf16 where the CPU has native bf16, else fp32) | fp32 | "
                                 "bf16 | int8 (asked for only)")
    engine: Engine = Field("auto", description="auto | openvino | torch | encode: how the sentence-transformers "
                        "backend runs the model (auto picks the fastest one that reproduces encode())")
    model_cache: str = Field("", description="Folder for converted model graphs (default "
                             "$XDG_CACHE_HOME/semsearch or ~/.cache/semsearch); off: convert at every load")
    embedding_cache_mb: int = Field(256, ge=0, le=1_000_000, description="Size bound of the embedding cache in the "
                                    "data folder (embedding-cache.sqlite3): a chunk whose exact text this model "
                                    "embedded before, in any collection, is not embedded again; least recently "
                                    "used vectors go first; 0: no cache")
    default_collection: str = Field("default", description="Collection used when none is named")
    index_type: IndexType = Field("flat", description="Index type for new collections: flat (exact) | hnsw")
    language: str = Field("en", description="Keyword search language for new collections: en, de, fr, es, zh, "
                          "... (docs/languages.md) | auto (detected per document)")
    fusion: Fusion = Field("relative", description="How hybrid queries combine rankings when a query names none: "
                           "relative (min-max scores) | rrf (reciprocal ranks)")

    # where collections live (indexer/stores/)
    store: StoreKind = Field("embedded", description="embedded (SQLite + FAISS files in the data folder) | qdrant "
                             "(a Qdrant server by SEMSEARCH_QDRANT_URL, or local mode in SEMSEARCH_QDRANT_PATH) | "
                             "postgres (PostgreSQL with pgvector by SEMSEARCH_POSTGRES_URL)")
    qdrant_url: str = Field("", description="Qdrant server, e.g. http://localhost:6333 (with SEMSEARCH_STORE=qdrant)")
    qdrant_path: str = Field("", description="Folder for Qdrant's in-process local mode (one process at a time; "
                             "with SEMSEARCH_STORE=qdrant)")
    qdrant_api_key: SecretStr | None = Field(None, description="API key the Qdrant server asks for, if any")
    qdrant_shards: int = Field(1, ge=1, le=1024, description="Shards of each new Qdrant collection (a cluster "
                               "spreads them over its nodes; local mode ignores it)")
    qdrant_replicas: int = Field(1, ge=1, le=16, description="Copies of each shard of a new Qdrant collection (a "
                                 "cluster keeps them on different nodes; local mode ignores it)")
    postgres_url: SecretStr | None = Field(None, description="libpq URL of the primary, e.g. "
                                           "postgresql://user:pass@db:5432/search (with SEMSEARCH_STORE=postgres); "
                                           "several hosts with target_session_attrs=read-write follow a failover")
    postgres_read_urls: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated libpq URLs of hot standbys that searches may read "
        "(by SEMSEARCH_POSTGRES_READS)")
    postgres_reads: PostgresReads = Field("primary", description="Where searches read: primary (read-your-writes) | "
                                          "synchronous (standbys; writes wait for remote_apply) | standby (bounded "
                                          "staleness: SEMSEARCH_POSTGRES_MAX_LAG)")
    postgres_max_lag: float = Field(5.0, gt=0, le=3600, description="Seconds a standby may be behind the primary "
                                    "and still serve searches (SEMSEARCH_POSTGRES_READS=standby)")
    postgres_vector: VectorType = Field("vector", description="Column type of new Postgres collections: vector "
                                        "(float32) | halfvec (float16: half the memory)")
    postgres_schema: str = Field("semsearch", pattern=r"^[a-z_][a-z0-9_]{0,62}$",
                                 description="Postgres schema holding semsearch's tables")
    postgres_hnsw_after: int = Field(10_000, ge=0, le=10**9, description="Chunks at which a Postgres collection "
                                     "with SEMSEARCH_INDEX_TYPE=hnsw gets its HNSW index (built once, faster than "
                                     "loading into it; below, searches scan exactly)")
    postgres_pool: int = Field(8, ge=1, le=256, description="Connections per pool (the primary's, and each standby's)")

    # indexing limits
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Files larger than this are skipped")
    chunk_overlap: int = Field(32, ge=0, le=128, description="Tokens shared by consecutive chunks")
    batch_chunks: int = Field(256, ge=1, le=100_000, description="Most chunks embedded and committed together "
                              "(fewer when SEMSEARCH_COMMIT_SECONDS comes first)")
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Texts per model forward pass")
    commit_seconds: float = Field(5.0, ge=0.0, le=3600.0, description="A folder run commits what it has embedded "
                                  "at least this often (a Ctrl-C or kill loses at most that much work), and when "
                                  "SEMSEARCH_BATCH_CHUNKS chunks are ready; 0: only by size")
    ocr: bool = Field(True, description="Read images (PNG, JPEG, TIFF, WebP, GIF, BMP) and PDF pages without a text "
                      "layer by OCR (Tesseract: apt-get install tesseract-ocr; docs/formats.md); false: skip them")
    ocr_command: str = Field("tesseract", min_length=1, description="The OCR engine's program: a name on PATH or a "
                             "path")
    ocr_languages: str = Field("", pattern=r"^[A-Za-z0-9_+]*$", description="Tesseract's languages, e.g. deu+eng "
                               "(each needs its tesseract-ocr-LANG package); empty: the collection's language")
    ocr_max_pixels: int = Field(50_000_000, ge=1, description="Images larger than this (width x height) are skipped; "
                                "PDF pages are rendered within it")
    ocr_max_pages: int = Field(100, ge=1, description="Files with more pages to recognise by OCR are skipped")
    ocr_page_seconds: float = Field(60.0, gt=0, le=3600, description="A file whose page takes longer to recognise "
                                    "is skipped")
    index_when_busy: WhenBusy = Field("wait", description="When another process (or job) is indexing the same "
                                      "collection: wait for it to finish, then index what is left | refuse")

    # bulk indexing on Ray (`semsearch index DIR --ray [ADDRESS]`, the optional extra semsearch[ray])
    ray_address: str = Field("", description="The Ray cluster `index --ray` joins (auto, HOST:PORT, "
                             "ray://HOST:10001); empty: it starts a local one")
    ray_actors: int = Field(0, ge=0, le=10_000, description="Ray actors that read, chunk and embed (each loads "
                            "the model once); 0: one per SEMSEARCH_RAY_CPUS_PER_ACTOR CPUs of the cluster")
    ray_cpus_per_actor: int = Field(1, ge=1, le=256, description="CPUs each Ray actor reserves; 1: its forward "
                                    "passes run on one core, side by side with the other actors")

    # HTTP service
    host: str = Field("127.0.0.1", min_length=1, description="Address the server binds (and the CLI probes)")
    port: int = Field(8000, ge=1, le=65535, description="Port the server binds (and the CLI probes)")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Comma-separated bearer keys; empty = no auth")
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Comma-separated folders the API may index; default <data_dir>/docs")
    max_texts: int = Field(256, ge=1, description="Texts per embed/compare request")
    max_text_chars: int = Field(100_000, ge=1, description="Characters per text")
    max_query_chars: int = Field(DEFAULT_MAX_QUERY_CHARS, ge=1, description="Characters per query")
    max_k: int = Field(DEFAULT_MAX_K, ge=MIN_K, description="Largest k (and offset + limit) a query may ask for")
    max_documents: int = Field(1000, ge=1, description="Documents per upsert request")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Largest request body")
    max_header_bytes: int = Field(32 * 1024, ge=4096, le=1024 * 1024, description="Largest request line plus "
                                  "headers `semsearch serve` reads; past it: 431 and the connection is closed")
    max_headers: int = Field(100, ge=16, le=10_000, description="Most header fields in a request `semsearch "
                             "serve` reads; past it: 431 and the connection is closed")
    # CLI client
    url: str = Field("", description="Server the CLI asks instead of loading the model (none: never ask one); "
                     "default: a server on host:port serving the same data folder and model, if one answers")
    api_key: SecretStr | None = Field(None, description="Bearer key the CLI sends to the server "
                                      "(default: the first of SEMSEARCH_API_KEYS)")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins a browser page may call the API from "
        "(e.g. http://localhost:3000), or *; empty = no CORS headers (same-origin only)")
    max_inflight_queries: int = Field(64, ge=0, description="Query requests in flight per worker before more are "
                                      "answered 503 with Retry-After; 0 = no bound")
    max_explain_chars: int = Field(300, ge=1, le=10_000,
                                   description="Characters per text for /explain (a trace grows with tokens squared)")
    explain_preload: bool = Field(True, description="Load and warm the NumPy transformer behind /explain, /explain/"
                                  "tokens and /model in the background at start-up (about 90 MB per worker; /readyz "
                                  "says when: \"explain\": \"ready\"); false: on the first such call, which then "
                                  "takes seconds")

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        from indexer.analysis.languages import check_language

        return check_language(v)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v: object) -> object:
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip().rstrip("/") for o in v.split(",") if o.strip()]
        return v

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        # A browser sends Origin as scheme://host[:port], nothing more: anything else would never match,
        # and CORS would fail in the browser with no hint on the server side.
        for o in origins:
            if o != "*" and not _ORIGIN.fullmatch(o):
                raise ValueError(f"{o!r} is not an origin: write scheme://host[:port] (e.g. http://localhost:3000) "
                                 "or *")
        return origins

    @field_validator("postgres_read_urls", mode="before")
    @classmethod
    def _split_urls(cls, v: object) -> object:
        # A libpq URL may itself hold commas (several hosts): split only before the next URL's scheme.
        if isinstance(v, str):
            return [u.strip() for u in re.split(r",\s*(?=postgres(?:ql)?://)", v) if u.strip()]
        return v

    @field_validator("allowed_roots", mode="before")
    @classmethod
    def _split_roots(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment (and ``.env``), or :class:`InvalidSettings` naming each bad one."""
        try:
            settings = cls(**overrides)
        except ValidationError as e:
            raise InvalidSettings("\n".join(_describe(cls, err) for err in e.errors())) from None
        problem = settings.store_problem()
        if problem:
            raise InvalidSettings(problem)
        return settings

    def store_problem(self) -> str | None:
        """Why the store settings do not fit together, or None."""
        if self.store == "postgres":
            if self.postgres_url is None or not self.postgres_url.get_secret_value():
                return ("SEMSEARCH_STORE='postgres' needs SEMSEARCH_POSTGRES_URL, a libpq URL such as "
                        "postgresql://user:password@localhost:5432/semsearch")
            if self.postgres_reads != "primary" and not self.postgres_read_urls:
                return (f"SEMSEARCH_POSTGRES_READS={self.postgres_reads!r} reads from hot standbys: name them in "
                        "SEMSEARCH_POSTGRES_READ_URLS (comma-separated libpq URLs)")
            return None
        if self.store != "qdrant":
            return None
        if bool(self.qdrant_url) == bool(self.qdrant_path):
            return ("SEMSEARCH_STORE='qdrant' needs exactly one of SEMSEARCH_QDRANT_URL (a server, e.g. "
                    "http://localhost:6333) and SEMSEARCH_QDRANT_PATH (a folder for local mode)")
        if self.qdrant_path and self.workers > 1:
            return (f"SEMSEARCH_WORKERS={self.workers} is not valid with SEMSEARCH_QDRANT_PATH: Qdrant's local mode "
                    "allows one process per folder; use SEMSEARCH_QDRANT_URL (a server) for several workers")
        return None

    def store_backend_type(self) -> Any:
        """The class of the store the settings name, not connected: what it can do is asked of it
        cheaply (e.g. ``require_files``, which snapshots need)."""
        if self.store in OPTIONAL_STORES:
            module, cls, needs = OPTIONAL_STORES[self.store]
            try:
                return getattr(importlib.import_module(module), cls)
            except ImportError as e:
                raise InvalidSettings(f"SEMSEARCH_STORE={self.store!r} needs {needs} ({e.name} is missing): "
                                      f"pip install 'semsearch[{self.store}]'") from None
        from indexer.stores.embedded import EmbeddedBackend

        return EmbeddedBackend

    def data_dir_backend(self) -> Any:
        """The embedded store over the data folder, whatever SEMSEARCH_STORE says (``eval``'s scratch
        collections live there)."""
        from indexer.stores.embedded import EmbeddedBackend

        return EmbeddedBackend(self.data_dir)

    def store_backend(self) -> Any:
        """Where collections live (``indexer.stores``): one per process; the caller closes it."""
        backend = self.store_backend_type()
        if self.store == "qdrant":
            key = self.qdrant_api_key.get_secret_value() if self.qdrant_api_key else None
            return backend(url=self.qdrant_url, path=Path(self.qdrant_path).expanduser() if self.qdrant_path
                           else "", api_key=key, shards=self.qdrant_shards, replicas=self.qdrant_replicas)
        if self.store == "postgres":
            assert self.postgres_url is not None
            return backend(self.postgres_url.get_secret_value(),
                           read_urls=[u.get_secret_value() for u in self.postgres_read_urls],
                           reads=self.postgres_reads, max_lag=self.postgres_max_lag, vector_type=self.postgres_vector,
                           schema=self.postgres_schema, pool_size=self.postgres_pool,
                           hnsw_after=self.postgres_hnsw_after)
        return backend(self.data_dir)

    def store_location(self) -> str:
        if self.store == "qdrant":
            return f"qdrant:{self.qdrant_url or Path(self.qdrant_path).expanduser().resolve()}"
        if self.store == "postgres":
            from indexer.stores.postgres.connection import describe

            url = self.postgres_url.get_secret_value() if self.postgres_url else ""
            return f"postgres:{describe(url)}/{self.postgres_schema}"
        return str(self.data_dir.expanduser().resolve())

    def fingerprint(self) -> str:
        """What a server must share with a CLI for the CLI to ask it (see app.client): the resolved
        data folder and the model, loaded the same way."""
        setup = "\n".join([str(self.data_dir.expanduser().resolve()), self.model, self.backend, self.precision,
                           self.engine, *([self.store_location()] if self.store != "embedded" else [])])
        return hashlib.sha256(setup.encode()).hexdigest()[:32]

    def client_api_key(self) -> str | None:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        return self.api_keys[0].get_secret_value() if self.api_keys else None

    def limits(self) -> Limits:
        from indexer.collection import Limits

        return Limits(max_file_bytes=self.max_file_bytes, chunk_overlap=self.chunk_overlap,
                      batch_chunks=self.batch_chunks, embed_batch_size=self.embed_batch_size,
                      commit_seconds=self.commit_seconds, when_busy=self.index_when_busy, max_k=self.max_k,
                      max_query_chars=self.max_query_chars, ocr=self.ocr, ocr_command=self.ocr_command,
                      ocr_languages=self.ocr_languages, ocr_max_pixels=self.ocr_max_pixels,
                      ocr_max_pages=self.ocr_max_pages, ocr_page_seconds=self.ocr_page_seconds)

    def roots(self) -> list[Path]:
        """The folders the API may index, resolved (symlinks followed)."""
        roots = self.allowed_roots or [self.data_dir / "docs"]
        return [Path(r).expanduser().resolve() for r in roots]


def _describe(cls: type[BaseSettings], error: Any) -> str:
    """``SEMSEARCH_INDEX_TYPE='ivf' is not valid: allowed values are flat, hnsw``."""
    name = str(error["loc"][0]) if error.get("loc") else ""
    var = ENV_PREFIX + name.upper()
    value = error.get("input")
    field = cls.model_fields.get(name)
    choices = _choices(field.annotation) if field is not None else ()
    if choices:
        allowed = "allowed values are " + ", ".join(choices)
    elif error.get("type") == "value_error":  # a validator's own sentence, as it wrote it
        allowed = str(error.get("ctx", {}).get("error", error.get("msg")))
    else:
        bounds = {k: v for m in (field.metadata if field is not None else []) for k in ("ge", "le", "gt", "lt")
                  if (v := getattr(m, k, None)) is not None}
        allowed = str(error.get("msg", "invalid")).lower()
        if bounds:
            kind = "an integer, " if field is not None and field.annotation is int else ""
            allowed = f"it must be {kind}" + " and ".join(f"{_WORD[k]} {v}" for k, v in bounds.items())
    shown = value if isinstance(value, str) else str(value) if value is not None else ""
    return f"{var}={shown!r} is not valid: {allowed}"


_ORIGIN = re.compile(r"https?://[^/\s:]+(:\d{1,5})?")
_WORD = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}


def _choices(annotation: Any) -> tuple[str, ...]:
    args = get_args(annotation)
    if args and all(isinstance(a, str) for a in args):
        return tuple(args)
    return tuple(c for a in args for c in _choices(a))
