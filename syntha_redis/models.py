"""Typed results: a stored context item with its metadata."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ContextItem"]


class ContextItem(BaseModel):
    """One context item as stored, with who wrote it, when, and its routing."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: Any
    version: int
    author: str | None
    created_at: float
    expires_at: float | None
    topics: list[str]
    subscribers: list[str]

    @property
    def is_global(self) -> bool:
        return not self.topics and not self.subscribers

    def ttl_remaining(self, now: float | None = None) -> float | None:
        """Seconds until expiry (None = never)."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - (time.time() if now is None else now))
