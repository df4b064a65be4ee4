"""``/embed`` and the OpenAI-compatible ``/v1/embeddings`` (app/routes/embed.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import (
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    RequestModel,
)


class EmbedRequest(RequestModel):
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


class OpenAIEmbeddingsRequest(RequestModel):
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
