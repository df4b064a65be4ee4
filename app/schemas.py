"""Request and response models. Request fields carry their limits, so /openapi.json tells clients the rules.

Limits are settings (``SEMSEARCH_MAX_*``), so the request models here are declared with the default
limits and :func:`build_models` derives, once per app, subclasses with the configured ones. Handlers
are typed with the classes below; the app's router factories bind the derived classes (see
``app.deps.bind``). Response models are static; where the library has the response type (search
hits, collection info) that type is the model.

Over 400 lines on purpose: this is the API's whole wire format, one section per resource, so a client
author reads every field and limit in one place; each section is a handful of plain models.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic.fields import FieldInfo

from app.settings import Settings
from indexer import collection
from indexer.collection import id_problem
from indexer.search import Fusion, Mode, SearchResponse
from indexer.search.options import MAX_LIKE_CHARS

NAME_PATTERN = "^" + collection.NAME_PATTERN + "$"
MAX_ID_CHARS = 512
MAX_METADATA_BYTES = 16_384
MAX_PATH_CHARS = 4096
_DEFAULTS = Settings.model_fields  # default limits for the static declarations below


def _default(name: str) -> int:
    value = _DEFAULTS[name].default
    assert isinstance(value, int)
    return value


MAX_TEXTS = _default("max_texts")
MAX_TEXT_CHARS = _default("max_text_chars")
MAX_QUERY_CHARS = _default("max_query_chars")
MAX_K = _default("max_k")
MAX_DOCUMENTS = _default("max_documents")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    def finite(v: Any, depth: int = 0) -> None:
        if depth > 20:
            raise ValueError("metadata is nested more than 20 levels deep")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("metadata numbers must be finite (no NaN or Infinity)")
        if isinstance(v, dict):
            for x in v.values():
                finite(x, depth + 1)
        elif isinstance(v, list):
            for x in v:
                finite(x, depth + 1)

    finite(value)
    size = len(json.dumps(value, ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size:,} bytes as JSON, over the {MAX_METADATA_BYTES:,} byte limit")
    return value


# -- errors ----------------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. collection_not_found")
    message: str = Field(description="What went wrong and what to do, for people")
    field: str | None = Field(None, description="The request field the error is about, if any")


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "code": "collection_not_found", "field": "collection",
        "message": "Collection 'notes' does not exist. Create it first (POST /collections)."}}]})


# -- embed -------------------------------------------------------------------------------------------
class EmbedRequest(_Request):
    """Texts to embed."""

    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] = Field(
        min_length=1, max_length=MAX_TEXTS,
        description="Texts to embed (SEMSEARCH_MAX_TEXTS per request, SEMSEARCH_MAX_TEXT_CHARS characters each)",
        examples=[["The cat sat on the mat.", "A feline rested on the rug."]])


class EmbedResponse(BaseModel):
    model: str = Field(description="The model that made the vectors")
    dimension: int
    embeddings: list[list[float]] = Field(description="One L2-normalized vector per text, in request order")
    tokens: list[int] = Field(description="Tokens per text, [CLS]/[SEP] included, capped at the model window")
    truncated: list[bool] = Field(description="True where a text was longer than the model window (cut off)")


class OpenAIEmbeddingsRequest(_Request):
    """OpenAI ``/v1/embeddings`` request. Token-id arrays are not supported: send strings."""

    model_config = ConfigDict(extra="ignore")  # clients send fields we have no use for

    input: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | Annotated[
        list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]], Field(min_length=1, max_length=MAX_TEXTS)] = Field(
        description="A string or a list of strings", examples=["The cat sat on the mat."])
    model: str = Field("", max_length=512,
                       description="Accepted for compatibility; the response names the model actually used")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: lists of numbers; base64: little-endian float32 bytes, base64-encoded")
    dimensions: int | None = Field(None, ge=1, le=100_000,
                                   description="If given, must equal the model's dimension (no truncation)")
    user: str | None = Field(None, max_length=512, description="Ignored")

    @model_validator(mode="before")
    @classmethod
    def _no_token_ids(cls, data: Any) -> Any:
        if isinstance(data, dict):
            value = data.get("input")
            if isinstance(value, list) and value and all(isinstance(x, (int, list)) for x in value):
                raise ValueError(
                    "input as token ids is not supported: send strings (LangChain's OpenAIEmbeddings: "
                    "check_embedding_ctx_length=False)")
        return data


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of little-endian float32")


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage


class OpenAIModel(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "semsearch"


class OpenAIModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIModel]


# -- compare -------------------------------------------------------------------------------------------
class CompareRequest(_Request):
    """Either ``texts`` (2 -> one similarity, N -> an N x N matrix) or ``query`` with ``candidates`` (ranked)."""

    texts: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        None, min_length=2, max_length=MAX_TEXTS, description="Two or more texts to compare pairwise",
        examples=[["How do I bake bread?", "Instructions for making a loaf"]])
    query: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = Field(
        None, description="Rank the candidates by similarity to this text")
    candidates: list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = Field(
        None, min_length=1, max_length=MAX_TEXTS, description="Texts to rank against the query")

    @model_validator(mode="after")
    def _one_form(self) -> CompareRequest:
        if self.texts is not None and (self.query is not None or self.candidates is not None):
            raise ValueError("send either texts, or query with candidates, not both")
        if self.texts is None and (self.query is None or self.candidates is None):
            raise ValueError("send texts (two or more), or query with candidates")
        return self


class RankedCandidate(BaseModel):
    index: int = Field(description="Position of the candidate in the request")
    text: str
    score: float = Field(description="Cosine similarity to the query, -1..1")


class CompareResponse(BaseModel):
    model: str
    similarity: float | None = Field(None, description="Cosine of the two texts (when exactly two were sent)")
    matrix: list[list[float]] | None = Field(None, description="Pairwise cosines of the texts")
    ranked: list[RankedCandidate] | None = Field(None, description="Candidates, most similar first")


# -- collections ----------------------------------------------------------------------------------------
class CollectionCreate(_Request):
    name: str = Field(pattern=NAME_PATTERN, description="1-64 letters, digits, '_', '-' or '.'",
                      examples=["notes"])
    model: str | None = Field(None, max_length=512,
                              description="Must be the model this server runs (default: it); anything else is 409")
    dimension: int | None = Field(None, ge=1, le=100_000, description="If given, must equal the model's dimension")
    index_type: Literal["flat", "hnsw"] | None = Field(
        None, description="flat (exact) or hnsw (approximate); default SEMSEARCH_INDEX_TYPE")


CollectionInfo = collection.CollectionInfo  # the library's dataclass is the response model


class CollectionList(BaseModel):
    collections: list[CollectionInfo]
    damaged: list[str] = Field(default_factory=list, description="Collections whose catalog cannot be read: "
                               "restore a snapshot or DELETE them")


# -- documents ----------------------------------------------------------------------------------------
class DocumentIn(_Request):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS, examples=["doc-1"],
                    description="Your id; upserting the same id replaces it. No control characters "
                    "(newline, tab, NUL, U+0000-U+001F, U+007F-U+009F)")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Text to chunk, embed and index")
    metadata: dict[str, Any] = Field(default_factory=dict,
                                     description=f"Any JSON object (at most {MAX_METADATA_BYTES:,} bytes); "
                                     "queries can filter on its top-level keys")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        problem = id_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _check_metadata(v)


class UpsertRequest(_Request):
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_DOCUMENTS,
                                        description="Documents to add or replace (SEMSEARCH_MAX_DOCUMENTS)")

    model_config = ConfigDict(json_schema_extra={"examples": [{"documents": [
        {"id": "doc-1", "text": "Sourdough needs a long, slow rise.", "metadata": {"topic": "baking"}}]}]})


class UpsertResponse(BaseModel):
    added: int
    updated: int
    unchanged: int = Field(description="Documents whose text and metadata were already stored as sent")
    chunks: int = Field(description="Chunks embedded by this request")


class DocumentOut(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]


class SourceOut(BaseModel):
    id: str = Field(description="Document id, or the file's path")
    kind: Literal["doc", "file"]
    ext: str
    size: int
    mtime: float
    metadata: dict[str, Any]
    chunks: int
    indexed_at: float


class SourceList(BaseModel):
    items: list[SourceOut]
    total: int
    offset: int
    limit: int


class DeleteDocumentsRequest(_Request):
    ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]] = Field(
        min_length=1, max_length=MAX_DOCUMENTS, examples=[["doc-1", "doc-2"]])


class DeleteResponse(BaseModel):
    deleted: int


# -- query -------------------------------------------------------------------------------------------------
class QueryFilters(_Request):
    path_glob: str | None = Field(None, max_length=1024, description="Only files whose path matches, e.g. 'docs/*.md'")
    ext: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=50, description="Only files with these extensions, e.g. ['md', 'txt']")
    metadata: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict, max_length=32, description="Equality on document metadata keys")
    modified_after: float | datetime | None = Field(
        None, description="Unix time or ISO 8601: files modified (documents indexed) after it")

    def timestamp(self) -> float | None:
        if isinstance(self.modified_after, datetime):
            return self.modified_after.timestamp()
        return self.modified_after

    @field_validator("metadata")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _check_metadata(v)

    @field_validator("modified_after")
    @classmethod
    def _finite_time(cls, v: float | datetime | None) -> float | datetime | None:
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError("modified_after must be a finite number")
        return v


_QUERY_DOC = "What to look for (or send like instead)"
_LIKE_DOC = ("More like this: a document id or an indexed file's path; hits are ranked by its vector "
             "(dense), leaving it out. Send it instead of query")
_MIN_SIMILARITY_DOC = ("Drop hits whose cosine (the hit's cosine field) is below this, before paging: "
                       "e.g. 0.3 keeps only passages with some real resemblance to the query")


class QueryRequest(_Request):
    """A search. The library checks the rules (indexer.search.options); the limits shown here are the same."""

    query: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC,
                              examples=["how long should bread dough rise"])
    like: str | None = Field(None, max_length=MAX_LIKE_CHARS, description=_LIKE_DOC)
    k: int = Field(10, ge=1, le=MAX_K, description="Hits to return (the page size)")
    offset: int = Field(0, ge=0, le=MAX_K - 1, description="Hits to skip (paging); offset + k <= SEMSEARCH_MAX_K")
    mode: Mode = Field("hybrid", description="dense (embeddings), keyword (bm25) or hybrid (a fusion of both)")
    fusion: Fusion | None = Field(
        None, description="How hybrid fuses the rankings: relative (min-max normalized scores, the default) or "
        "rrf (reciprocal rank fusion)")
    min_similarity: float | None = Field(None, ge=-1, le=1, description=_MIN_SIMILARITY_DOC)
    filters: QueryFilters = Field(default_factory=QueryFilters)
    explain: bool = Field(False, description="Include per-mode ranks and scores for each hit")


class QueryParams(BaseModel):
    """GET /collections/{name}/query parameters: the POST body's fields, filters flattened (no metadata)."""

    model_config = ConfigDict(extra="ignore")

    q: str | None = Field(None, max_length=MAX_QUERY_CHARS, description=_QUERY_DOC)
    like: str | None = Field(None, max_length=MAX_LIKE_CHARS, description=_LIKE_DOC)
    k: int = Field(10, ge=1, le=MAX_K, description="Hits to return")
    offset: int = Field(0, ge=0, le=MAX_K - 1, description="Hits to skip")
    mode: Mode = "hybrid"
    fusion: Fusion | None = None
    min_similarity: float | None = Field(None, ge=-1, le=1, description=_MIN_SIMILARITY_DOC)
    path_glob: str | None = Field(None, max_length=1024)
    ext: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list, max_length=50)
    modified_after: float | None = Field(None, description="Unix time")
    explain: bool = False

    @field_validator("modified_after")
    @classmethod
    def _finite_time(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("modified_after must be a finite number")
        return v


QueryResponse = SearchResponse  # the library's dataclass (its hits are indexer.search.Hit) is the response model


# -- jobs -----------------------------------------------------------------------------------------------------
class IndexFolderRequest(_Request):
    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS,
                      description="Server-side folder under an allowed root (SEMSEARCH_ALLOWED_ROOTS); "
                      "relative paths are resolved against the first root", examples=["example"])
    create: bool = Field(True, description="Create the collection if it does not exist")

    @field_validator("path")
    @classmethod
    def _no_nul(cls, v: str) -> str:
        if "\x00" in v:
            raise ValueError("path must not contain NUL characters")
        return v


JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]


class Job(BaseModel):
    id: str
    collection: str
    kind: str
    params: dict[str, Any]
    state: JobState
    created_at: float
    started_at: float | None
    finished_at: float | None
    files_done: int = 0
    phase: str | None = Field(None, description="starting | walking | indexing | removing | saving | done")
    files_total: int | None = Field(None, description="Files found so far (grows while walking, then fixed)")
    chunks_embedded: int = 0
    chunks_per_second: float | None = None
    eta_seconds: float | None = None
    current: str = Field("", description="The file being processed")
    cancel_requested: bool = False
    report: dict[str, Any] | None = Field(
        None, description="When finished: files added/updated/unchanged/removed/skipped, chunks, skips with reasons")
    error: ErrorDetail | None = None


class JobList(BaseModel):
    jobs: list[Job]


# -- snapshots ---------------------------------------------------------------------------------------------
SNAPSHOT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.snapshot$"


class Snapshot(BaseModel):
    name: str = Field(description="File name under <data>/snapshots/<collection>/")
    collection: str = Field(description="The collection it was taken of")
    created: float
    size_bytes: int
    catalog_seq: int = Field(description="The catalog write the snapshot holds")
    vectors_seq: int | None = Field(description="The write its vector file reflects (None: rebuilt on restore)")
    chunks: int
    model: str
    dimension: int
    index_type: str


class SnapshotList(BaseModel):
    snapshots: list[Snapshot] = Field(description="Newest first")


# -- health ------------------------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "starting"]
    model: str | None = None
    dimension: int | None = None
    backend: str | None = None
    collections: list[str] = Field(default_factory=list, description="Collections opened and ready")
    unavailable: dict[str, str] = Field(default_factory=dict, description="Collections that could not be opened")


# -- explain (the bundled NumPy transformer) --------------------------------------------------------------
MAX_EXPLAIN_CHARS = _default("max_explain_chars")


class ExplainRequest(_Request):
    text: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS,
                      description="One short text to trace (SEMSEARCH_MAX_EXPLAIN_CHARS)",
                      examples=["The cat sat on the mat."])


class ExplainTokensRequest(_Request):
    a: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS, examples=["The cat sat on the mat."])
    b: str = Field(min_length=1, max_length=MAX_EXPLAIN_CHARS, examples=["A feline rested on the rug."])


class ExplainTrace(BaseModel):
    """Every intermediate state of one text (see indexer/transformer/trace.py for the shapes)."""

    model_config = ConfigDict(extra="allow")

    text: str
    tokens: list[str]
    ids: list[int]
    truncated: bool
    shapes: dict[str, list[int]]
    embeddings: dict[str, list[list[float]]] = Field(description="word, position, token_type, sum, layernorm: T x C")
    layers: list[dict[str, Any]] = Field(description="Per layer: attention (H x T x T) and per-token summaries")
    pooled: list[float]
    normalized: list[float] = Field(description="The embedding: equals /embed's vector for this text")


class TokenSimilarity(BaseModel):
    tokens_a: list[str]
    tokens_b: list[str]
    similarity: list[list[float]] = Field(description="Cosine of every final token vector of a with every one of b")


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    served_model: str = Field(description="The embedding model this server runs")
    backend: str = Field(description="The backend /embed uses: sentence-transformers or minimal")
    embedding_dim: int
    num_layers: int
    num_heads: int
    parameters: dict[str, Any] = Field(description="Parameter counts per component and in total")


# -- per-app limits ------------------------------------------------------------------------------------------
def _limited(base: type[BaseModel], **fields: tuple[Any, FieldInfo]) -> Any:
    """A subclass of ``base`` (same name in the OpenAPI document) with some fields re-declared.

    Each new FieldInfo is merged over the base field, so descriptions and examples carry over."""
    merged = {name: (ann, FieldInfo.merge_field_infos(base.model_fields[name], info))
              for name, (ann, info) in fields.items()}
    return create_model(base.__name__, __base__=base, __module__=base.__module__, **merged)  # type: ignore[call-overload]


@dataclass(frozen=True)
class ApiModels:
    """This app's request models, with the configured limits."""

    embed: type[EmbedRequest]
    openai_embeddings: type[OpenAIEmbeddingsRequest]
    compare: type[CompareRequest]
    upsert: type[UpsertRequest]
    delete_documents: type[DeleteDocumentsRequest]
    query: type[QueryRequest]
    query_params: type[QueryParams]
    explain: type[ExplainRequest]
    explain_tokens: type[ExplainTokensRequest]


def build_models(s: Settings) -> ApiModels:
    chars, items, docs, k = s.max_text_chars, s.max_texts, s.max_documents, s.max_k
    document = _limited(DocumentIn, text=(str, Field(max_length=chars)))
    return ApiModels(
        embed=_limited(EmbedRequest, texts=(list[Annotated[str, Field(max_length=chars)]], Field(max_length=items))),
        openai_embeddings=_limited(OpenAIEmbeddingsRequest, input=(
            Annotated[str, Field(max_length=chars)]
            | Annotated[list[Annotated[str, Field(max_length=chars)]], Field(min_length=1, max_length=items)],
            Field())),
        compare=_limited(CompareRequest,
                         texts=(list[Annotated[str, Field(max_length=chars)]] | None, Field(max_length=items)),
                         query=(Annotated[str, Field(max_length=chars)] | None, Field()),
                         candidates=(list[Annotated[str, Field(max_length=chars)]] | None, Field(max_length=items))),
        upsert=_limited(UpsertRequest, documents=(list.__class_getitem__(document), Field(max_length=docs))),
        delete_documents=_limited(DeleteDocumentsRequest, ids=(
            list[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]], Field(max_length=docs))),
        query=_limited(QueryRequest, query=(str, Field(max_length=s.max_query_chars)),
                       k=(int, Field(le=k)), offset=(int, Field(le=k - 1))),
        query_params=_limited(QueryParams, q=(str, Field(max_length=s.max_query_chars)),
                              k=(int, Field(le=k)), offset=(int, Field(le=k - 1))),
        explain=_limited(ExplainRequest, text=(str, Field(max_length=s.max_explain_chars))),
        explain_tokens=_limited(ExplainTokensRequest, a=(str, Field(max_length=s.max_explain_chars)),
                                b=(str, Field(max_length=s.max_explain_chars))),
    )
