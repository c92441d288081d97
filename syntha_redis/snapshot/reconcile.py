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

What a tenant wrote into its keys is parsed as untrusted input
(``syntha_redis.core.untrusted``): a member or a counter that the library
never writes is set aside and counted, and the rest of the user is captured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from syntha_redis.core import keys, untrusted
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

__all__ = ["capture_user"]


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
    before = _usable(user_id, uk.version,
                     untrusted.counter(snap.call(client.get, uk.version), "version counter"))
    toks = _tokens(user_id, uk.items, snap.call(client.smembers, uk.items))
    batch = Batch(items=snap.read_items([(user_id, t) for t in toks]))
    if before is not None:  # agent rows are stamped with it
        batch.agents += _agents(snap, user_id, before)
    snap.db.write(batch)
    return len(batch)


def _usable(user_id: str, key: str, found: int | untrusted.Malformed) -> int | None:
    if isinstance(found, untrusted.Malformed):
        untrusted.set_aside("snapshot capture", user_id, key, found)
        return None
    return found


def _tokens(user_id: str, key: str, members: Any) -> list[str]:
    """The valid tokens among a set's members (the others set aside), sorted."""
    found = []
    for member in members:
        parsed = untrusted.identifier(member, "set member")
        if isinstance(parsed, untrusted.Malformed):
            untrusted.set_aside("snapshot capture", user_id, key, parsed)
        else:
            found.append(parsed[1])
    return sorted(found)


def _agents(snap: Snapshotter, user_id: str, version: int) -> list[AgentRow]:
    """The subscriptions and permissions of every agent Redis lists, stamped ``version``."""
    uk = snap.user_keys(user_id)
    listed = [(SUBSCRIBED, keys.SUBSCRIBED_AGENTS, keys.AGENT_TOPICS),
              (PERMISSIONS, keys.PERMISSION_AGENTS, keys.POST_PERMISSIONS)]
    wanted: list[tuple[str, str, str]] = []  # (kind, agent token, set key)
    for kind, registry, prefix in listed:
        agents = _tokens(user_id, uk.root + registry,
                         snap.call(snap.client.smembers, uk.root + registry))
        wanted += [(kind, tok, uk.root + prefix + tok) for tok in agents]
    pipe = snap.client.pipeline(transaction=False)
    for kind, _, name in wanted:
        # an agent's topics keep their subscription order; permissions are a set
        if kind == SUBSCRIBED:
            pipe.zrange(name, 0, -1)
        else:
            pipe.smembers(name)
    replies = snap.call(pipe.execute)
    rows = []
    for (kind, tok, name), topics in zip(wanted, replies, strict=True):
        toks = _tokens(user_id, name, topics)
        if kind == SUBSCRIBED:  # keep the subscription order, without the members set aside
            order = {t: i for i, t in enumerate(m.decode("ascii", "replace") for m in topics)}
            toks.sort(key=lambda t: order[t])
        rows.append(AgentRow(user_id, keys.decode(tok), kind, [keys.decode(t) for t in toks],
                             version))
    return rows
