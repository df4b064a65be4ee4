"""Request and response models. Request fields carry their limits, so /openapi.json tells clients the rules.

Limits are settings (``SEMSEARCH_MAX_*``), so the request models here are declared with the default
limits and :func:`build_models` derives, once per app, subclasses with the configured ones. Handlers
are typed with the classes below; the app's router factories bind the derived classes (see
``app.deps.bind``). Response models are static; where the library has the response type (search
hits, collection info) that type is the model.

One module per resource, mirroring ``app/routes/``; this package re-exports every model, so
``from app.schemas import QueryRequest`` works whichever module declares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from app.schemas.collections import (
    CollectionCreate,
    CollectionInfo,
    CollectionList,
)
from app.schemas.common import (
    DEFAULTS,
    MAX_DOCUMENTS,
    MAX_ID_CHARS,
    MAX_K,
    MAX_METADATA_BYTES,
    MAX_PATH_CHARS,
    MAX_QUERY_CHARS,
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    NAME_PATTERN,
    NAME_RULE,
    NAME_SCHEMA,
    ErrorDetail,
    ErrorResponse,
    RequestModel,
    check_metadata,
    default_limit,
)
from app.schemas.compare import (
    CompareRequest,
    CompareResponse,
    RankedCandidate,
)
from app.schemas.documents import (
    DeleteDocumentsRequest,
    DeleteResponse,
    DocumentIn,
    DocumentOut,
    SourceList,
    SourceOut,
    UpsertRequest,
    UpsertResponse,
)
from app.schemas.embed import (
    EmbedRequest,
    EmbedResponse,
    OpenAIEmbedding,
    OpenAIEmbeddingsRequest,
    OpenAIEmbeddingsResponse,
    OpenAIModel,
    OpenAIModelList,
    OpenAIUsage,
)
from app.schemas.explain import (
    MAX_EXPLAIN_CHARS,
    ExplainRequest,
    ExplainTokensRequest,
    ExplainTrace,
    ModelInfo,
    TokenSimilarity,
)
from app.schemas.facets import FacetParams, FacetRequest, FacetResponse, FacetValue
from app.schemas.health import (
    Health,
    Ready,
)
from app.schemas.jobs import (
    IndexFolderRequest,
    Job,
    JobList,
    JobState,
)
from app.schemas.query import (
    Fusion,
    Mode,
    QueryFilters,
    QueryParams,
    QueryRequest,
    QueryResponse,
)
from app.schemas.snapshots import (
    SNAPSHOT_PATTERN,
    SkippedSnapshot,
    Snapshot,
    SnapshotList,
)
from app.settings import Settings
from indexer.limits import MIN_K

__all__ = [
    "Fusion", "Mode",
    "ApiModels", "CollectionCreate", "CollectionInfo", "CollectionList", "CompareRequest", "CompareResponse",
    "DEFAULTS", "DeleteDocumentsRequest", "DeleteResponse", "DocumentIn", "DocumentOut", "EmbedRequest",
    "EmbedResponse", "ErrorDetail",
    "ErrorResponse", "ExplainRequest", "ExplainTokensRequest", "ExplainTrace",
    "FacetParams", "FacetRequest", "FacetResponse", "FacetValue",
    "Health", "IndexFolderRequest", "Job", "JobList", "JobState", "MAX_DOCUMENTS", "MAX_EXPLAIN_CHARS",
    "MAX_ID_CHARS", "MAX_K", "MAX_METADATA_BYTES", "MAX_PATH_CHARS", "MAX_QUERY_CHARS", "MAX_TEXTS",
    "MAX_TEXT_CHARS", "ModelInfo", "NAME_PATTERN", "NAME_RULE", "NAME_SCHEMA", "OpenAIEmbedding",
    "OpenAIEmbeddingsRequest",
    "OpenAIEmbeddingsResponse", "OpenAIModel", "OpenAIModelList", "OpenAIUsage", "QueryFilters", "QueryParams",
    "QueryRequest", "QueryResponse", "RankedCandidate", "Ready", "RequestModel", "SNAPSHOT_PATTERN",
    "SkippedSnapshot", "Snapshot", "SnapshotList", "SourceList", "SourceOut", "TokenSimilarity", "UpsertRequest",
    "UpsertResponse", "build_models",
    "check_metadata", "default_limit",
]


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
                       k=(int, Field(le=k)), offset=(int, Field(le=k - MIN_K))),
        query_params=_limited(QueryParams, q=(str, Field(max_length=s.max_query_chars)),
                              k=(int, Field(le=k)), offset=(int, Field(le=k - MIN_K))),
        explain=_limited(ExplainRequest, text=(str, Field(max_length=s.max_explain_chars))),
        explain_tokens=_limited(ExplainTokensRequest, a=(str, Field(max_length=s.max_explain_chars)),
                                b=(str, Field(max_length=s.max_explain_chars))),
    )
