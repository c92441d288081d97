"""What the snapshot stores: item rows, agent rows, and batches of both."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ItemRow", "AgentRow", "Batch", "SUBSCRIBED", "PERMISSIONS"]

SUBSCRIBED = "subscribed"
PERMISSIONS = "permissions"


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
