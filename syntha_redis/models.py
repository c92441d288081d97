"""Items: ``StoredItem``, what the mesh returns, and Syntha's ``ContextItem``.

``StoredItem`` is a stored item with its metadata (version, author, times,
routing), as ``get_item()`` and ``get_visible_items()`` return it.
``ContextItem`` is Syntha's value object of the same name (``from syntha
import ContextItem`` keeps working after the import swap): a value, its
subscribers and a TTL, with ``is_expired()`` and ``is_accessible_by()``. The
mesh never stores one; in Redis, who sees an item also depends on the topics
each agent follows when it reads (see the README's "How it works").
"""

from __future__ import annotations

import copy
import time
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ContextItem", "StoredItem"]


class StoredItem(BaseModel):
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


class ContextItem:
    """Syntha's ``ContextItem(value, subscribers=None, ttl=None)``.

    Holds a deep copy of ``value`` and a copy of ``subscribers``, so later
    changes to the caller's objects do not reach it. ``ttl`` is in seconds
    from ``created_at``; as in Syntha, a ``ttl`` of zero or less is expired at
    once (this object is Syntha's; the mesh's own TTL rule is ``push()``'s).
    """

    __slots__ = ("value", "subscribers", "ttl", "created_at")

    def __init__(
        self, value: Any, subscribers: list[str] | None = None, ttl: float | None = None
    ) -> None:
        self.value = copy.deepcopy(value)
        self.subscribers: list[str] = list(subscribers or [])
        self.ttl = ttl
        self.created_at = time.time()

    def is_expired(self) -> bool:
        if self.ttl is None:
            return False
        return time.time() >= self.created_at + self.ttl

    def is_accessible_by(self, agent_name: str) -> bool:
        """Unexpired, and global (no subscribers) or addressed to ``agent_name``."""
        if self.is_expired():
            return False
        return not self.subscribers or agent_name in self.subscribers

    def __repr__(self) -> str:
        return (
            f"ContextItem(value={self.value!r:.60}, subscribers={self.subscribers!r}, "
            f"ttl={self.ttl!r})"
        )
