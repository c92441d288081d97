"""What the snapshot stores: item rows, agent rows, and batches of both; an item
row made from an item hash; the capture floor's constants (lua/snapshot_advance.lua)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syntha_redis.core import untrusted

__all__ = ["ItemRow", "AgentRow", "Batch", "SUBSCRIBED", "PERMISSIONS", "item_row",
           "FLOOR_TTL_MS", "NO_FLOOR"]

SUBSCRIBED = "subscribed"
PERMISSIONS = "permissions"
# A user's capture floor lapses after this long without a capture (its
# snapshot was turned off): then its stream is trimmed by length again.
FLOOR_TTL_MS = 7 * 86_400_000
NO_FLOOR = "0-0"  # floor of a user no capture has acknowledged anything of yet


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One item as captured (``deleted`` = tombstone, ``value`` None)."""

    user_id: str
    key: str
    value: bytes | None
    topics: list[str]
    subscribers: list[str]
    author: str | None
    version: int
    created_ms: int
    expires_ms: int | None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class AgentRow:
    """An agent's full topic set of one kind (SUBSCRIBED or PERMISSIONS)."""

    user_id: str
    agent: str
    kind: str
    topics: list[str]
    version: int


@dataclass
class Batch:
    """Everything one transaction writes."""

    items: list[ItemRow] = field(default_factory=list)
    agents: list[AgentRow] = field(default_factory=list)
    clears: list[tuple[str, int]] = field(default_factory=list)  # (user_id, version)

    def __len__(self) -> int:
        return len(self.items) + len(self.agents) + len(self.clears)

    def latest(self) -> Batch:
        """Only the newest row per item and per agent, sorted by primary key.

        Fewer rows to write, and a fixed lock order, so two snapshotters
        writing overlapping batches cannot deadlock each other.
        """
        items: dict[tuple[str, str], ItemRow] = {}
        for row in self.items:
            old = items.get((row.user_id, row.key))
            if old is None or old.version < row.version:
                items[(row.user_id, row.key)] = row
        agents: dict[tuple[str, str, str], AgentRow] = {}
        for a in self.agents:
            prior = agents.get((a.user_id, a.agent, a.kind))
            if prior is None or prior.version < a.version:
                agents[(a.user_id, a.agent, a.kind)] = a
        clears: dict[str, int] = {}
        for user, version in self.clears:
            clears[user] = max(version, clears.get(user, 0))
        return Batch(
            [items[k] for k in sorted(items)],
            [agents[k] for k in sorted(agents)],
            sorted(clears.items()),
        )


def item_row(user_id: str, key: str, h: Any) -> ItemRow | untrusted.Malformed | None:
    """The row for an item hash read with HMGET keys.ITEM_HASH_FIELDS (None if it is gone)."""
    found = untrusted.item(h)
    if not isinstance(found, untrusted.Item):
        return found
    return ItemRow(user_id, key, found.value, list(found.topics), list(found.subscribers),
                   found.author, found.version, found.created_ms, found.expires_ms)
