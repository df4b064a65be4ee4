"""``/healthz`` and ``/readyz`` (app/routes/health.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "starting"]
    model: str | None = None
    dimension: int | None = None
    backend: str | None = None
    collections: list[str] = Field(default_factory=list, description="Collections opened and ready")
    unavailable: dict[str, str] = Field(default_factory=dict, description="Collections that could not be opened")
    explain: Literal["loading", "ready", "on first use", "unavailable"] = Field(
        "loading", description="The model behind /explain, /explain/tokens and /model: loading in the background "
        "after start-up (a call waits for it), ready, loaded on the first call (SEMSEARCH_EXPLAIN_PRELOAD=false), "
        "or unavailable (the served model is not one the bundled transformer reproduces)")
