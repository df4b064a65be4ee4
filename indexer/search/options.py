"""What a search may ask for: mode, page, filters, fusion - and the rules every caller shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from indexer.errors import InvalidInput
from indexer.search.filters import Filters

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")


@dataclass
class SearchOptions:
    k: int = 10
    offset: int = 0
    mode: str = "hybrid"
    filters: Filters = field(default_factory=Filters)
    explain: bool = False
    fusion: str = "relative"  # how hybrid combines the rankings: relative (min-max scores) | rrf (ranks)
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    candidates: int = 100  # depth of each ranking that hybrid fuses

    def check(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}", field="mode")
        if self.k < 1:
            raise InvalidInput("k must be at least 1", field="k")
