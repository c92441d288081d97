"""Full capture of one user's current state, for when stream history is missing.

The stream is bounded (``MAXLEN``, ``MINID``) and an idle user's stream
expires, so a snapshotter that meets a user's stream for the first time (a
new consumer group) cannot assume it holds every change. It then writes the
user's whole current state, version-guarded like any batch.

It writes what Redis holds and nothing about what Redis lacks: an item or an
agent missing from Redis may have been lost with Redis's data (an empty
restart, a failover), and only an explicit delete, ``clear()`` or an expiry
makes a tombstone. The deletions whose events the capture may not have read
are the ones the scripts keep in ``<root>gone`` while a snapshot captures
the user (``lua/_prelude.lua``): they are written as tombstones here, so a
deletion survives any trim of the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from syntha_redis.core import keys
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

__all__ = ["capture_user"]

CLEARED = b"*cleared"  # the member of <root>gone that stands for clear()


class Snapshotter(Protocol):
    """What a full capture uses of ``capture.Snapshotter``, which calls it."""

    client: Any
    db: SnapshotDB

    def user_keys(self, user_id: str) -> keys.UserKeys: ...

    def read_items(self, wanted: list[tuple[str, str]]) -> list[ItemRow]: ...

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


def capture_user(snap: Snapshotter, user_id: str) -> int:
    """Write ``user_id``'s whole current state; returns the rows written."""
    uk = snap.user_keys(user_id)
    client = snap.client
    before = int(snap.call(client.get, uk.version) or 0)
    toks = sorted(m.decode() for m in snap.call(client.smembers, uk.items))
    batch = Batch(items=snap.read_items([(user_id, t) for t in toks]))
    batch.agents += _agents(snap, user_id, before)
    for tok, version in snap.call(client.zrange, uk.gone, 0, -1, withscores=True):
        if tok == CLEARED:
            batch.clears.append((user_id, int(version)))
        else:
            batch.items.append(ItemRow(user_id, keys.decode(tok), None, [], [], None,
                                       int(version), 0, None, deleted=True))
    snap.db.write(batch)
    return len(batch)


def _agents(snap: Snapshotter, user_id: str, version: int) -> list[AgentRow]:
    """The subscriptions and permissions of every agent Redis lists, stamped ``version``."""
    uk = snap.user_keys(user_id)
    listed = [(SUBSCRIBED, keys.SUBSCRIBED_AGENTS, keys.AGENT_TOPICS),
              (PERMISSIONS, keys.PERMISSION_AGENTS, keys.POST_PERMISSIONS)]
    wanted: list[tuple[str, str, str]] = []  # (kind, agent token, set key)
    for kind, registry, prefix in listed:
        agents = {m.decode() for m in snap.call(snap.client.smembers, uk.root + registry)}
        wanted += [(kind, tok, uk.root + prefix + tok) for tok in sorted(agents)]
    pipe = snap.client.pipeline(transaction=False)
    for kind, _, name in wanted:
        # an agent's topics keep their subscription order; permissions are a set
        if kind == SUBSCRIBED:
            pipe.zrange(name, 0, -1)
        else:
            pipe.smembers(name)
    replies = snap.call(pipe.execute)
    return [
        AgentRow(user_id, keys.decode(tok), kind,
                 [keys.decode(t) for t in (topics if kind == SUBSCRIBED else sorted(topics))],
                 version)
        for (kind, tok, _), topics in zip(wanted, replies, strict=True)
    ]
