"""Full capture of one user's current state, for when stream history is missing.

The stream is bounded (``MAXLEN``, ``MINID``) and an idle user's stream
expires, so a snapshotter that meets a user's stream for the first time (a
new consumer group) cannot assume it holds every change. It then writes the
user's whole current state, version-guarded like any batch.

It writes what Redis holds and nothing about what Redis lacks: an item or an
agent missing from Redis may have been lost with Redis's data (an empty
restart, a failover), and only an explicit delete, ``clear()`` or an expiry
makes a tombstone. A deletion whose event was trimmed from the stream before
any snapshotter read it therefore stays live in the snapshot; the stream's
retention (``stream_max_length``, ``stream_max_age_seconds``) must exceed the
snapshot's lag, which ``lag_seconds()`` and the metrics report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syntha_redis import keys
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch

if TYPE_CHECKING:
    from syntha_redis.snapshot.capture import Snapshotter

__all__ = ["capture_user"]


def capture_user(snap: Snapshotter, user_id: str) -> int:
    """Write ``user_id``'s whole current state; returns the rows written."""
    uk = snap.user_keys(user_id)
    client = snap.client
    before = int(snap.call(client.get, uk.version) or 0)
    toks = sorted(m.decode() for m in snap.call(client.smembers, uk.items))
    batch = Batch(items=snap.read_items([(user_id, t) for t in toks]))
    batch.agents += _agents(snap, user_id, before)
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
