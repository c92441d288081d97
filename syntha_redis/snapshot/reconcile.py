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

What a tenant wrote into its keys is parsed as untrusted input
(``syntha_redis.core.untrusted``): a member or a counter that the library
never writes is set aside and counted, and the rest of the user is captured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from syntha_redis.core import keys, untrusted
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

__all__ = ["capture_user"]

CLEARED = b"*cleared"  # the member of <root>gone that stands for clear()
GONE_PAGE = 1000


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
    _deletions(snap, user_id, batch)
    snap.db.write(batch)
    return len(batch)


def _deletions(snap: Snapshotter, user_id: str, batch: Batch) -> None:
    """Add the deletions kept in ``<root>gone`` (token -> version) to ``batch``:
    tombstones, and ``clear()`` as a clear; a member or a score the scripts
    never write is set aside."""
    gone = snap.user_keys(user_id).gone
    for member, score in _by_score(snap, gone):
        version = (untrusted.integer(int(score), "version of a deletion")
                   if math.isfinite(score) and score == int(score)
                   else untrusted.Malformed("bad_integer", f"deletion version {score!r}"))
        if isinstance(version, untrusted.Malformed):
            untrusted.set_aside("snapshot capture", user_id, gone, version)
        elif member == CLEARED:
            batch.clears.append((user_id, version))
        elif isinstance(parsed := untrusted.identifier(member, "deleted key"), tuple):
            batch.items.append(ItemRow(user_id, parsed[0], None, [], [], None, version, 0,
                                       None, deleted=True))
        else:
            untrusted.set_aside("snapshot capture", user_id, gone, parsed)


def _by_score(snap: Snapshotter, zset: str) -> Iterator[tuple[bytes, float]]:
    """(member, score) of ``zset`` in pages of GONE_PAGE (each call bounded), by
    score: the scripts only add higher versions and drop the lowest meanwhile."""
    low = "-inf"
    while True:
        page = snap.call(snap.client.zrangebyscore, zset, low, "+inf", start=0, num=GONE_PAGE,
                         withscores=True)
        yield from page
        if len(page) < GONE_PAGE:
            return
        low = f"({page[-1][1]!r}"


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
