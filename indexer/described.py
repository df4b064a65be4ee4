"""``described(text)``: a dataclass field that carries its description.

The library's result types (``Hit``, ``SearchResponse``, ``CollectionInfo``) are also the HTTP API's
response models: pydantic reads ``metadata["description"]`` of a dataclass field, so the OpenAPI
document describes each field in the words written beside it, and nothing is declared twice.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def described(text: str, **kw: Any) -> Any:
    """``dataclasses.field(metadata={"description": text}, **kw)``."""
    return field(metadata={"description": text}, **kw)
