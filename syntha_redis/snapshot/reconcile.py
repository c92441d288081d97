"""Full capture of one user's current state, for when stream history is missing.

The stream is bounded (``MAXLEN``, ``MINID``) and an idle user's stream
expires, so a snapshotter that meets a user's stream for the first time (a
new consumer group) cannot assume it holds every change. It then writes the
user's whole current state, version-guarded like any batch.

Items in the snapshot but no longer in Redis get a tombstone at the version
counter's value read *before* the scan: every deletion the scan missed is
older than that, and any later push of the key has a higher version, so the
guard lets it win.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syntha_redis import keys
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

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
    live = {row.key for row in batch.items}
    for row in snap.db.items(user_id):
        if row.key not in live:
            batch.items.append(ItemRow(user_id, row.key, None, row.topics, row.subscribers,
                                       None, before, 0, None, deleted=True))
    batch.agents += _agents(snap, user_id, before)
    snap.db.write(batch)
    return len(batch)


def _agents(snap: Snapshotter, user_id: str, version: int) -> list[AgentRow]:
    """Every agent's subscriptions and permissions now, stamped ``version``.

    Agents the snapshot knows but Redis no longer lists get an empty set.
    """
    uk = snap.user_keys(user_id)
    found = {(a.agent, a.kind) for a in snap.db.agents(user_id)}
    listed = [(SUBSCRIBED, keys.SUBSCRIBED_AGENTS, keys.AGENT_TOPICS),
              (PERMISSIONS, keys.PERMISSION_AGENTS, keys.POST_PERMISSIONS)]
    wanted: list[tuple[str, str, str]] = []  # (kind, agent token, set key)
    for kind, registry, prefix in listed:
        agents = {m.decode() for m in snap.call(snap.client.smembers, uk.root + registry)}
        agents |= {keys.encode(agent) for agent, k in found if k == kind}
        wanted += [(kind, tok, uk.root + prefix + tok) for tok in sorted(agents)]
    pipe = snap.client.pipeline(transaction=False)
    for _, _, name in wanted:
        pipe.smembers(name)
    replies = snap.call(pipe.execute)
    return [
        AgentRow(user_id, keys.decode(tok), kind, sorted(keys.decode(t) for t in topics), version)
        for (kind, tok, _), topics in zip(wanted, replies, strict=True)
    ]
