"""The users registry: which users of a deployment have written, for trusted readers.

The snapshotter, the fleet sweep, the mesh-wide metrics and ``limits set``
need every user of a deployment without a keyspace SCAN. A user's script
cannot record that (the registry is outside every user's hash slot), so a
process announces each user it writes for, once and then every
``operations.REGISTER_EVERY`` seconds.

Announcing must not let a tenant learn which other user ids exist. So a
tenant only appends to a stream, ``<prefix>:{registry}:joins`` (``XADD``,
which answers with an entry id, not with whether the user was known; the
tenant's ACL makes the stream write-only). Trusted readers fold the joins
into the set ``<prefix>:{registry}:users`` and trim what they folded.
Both keys carry their own hash tag, so each lives in one slot of a Cluster.
"""

from __future__ import annotations

from typing import Any

from syntha_redis import keys
from syntha_redis.calls import CommandCall, Operation
from syntha_redis.codec import text

__all__ = ["announce", "ask_for_limits", "forget", "take_limit_asks", "users", "JOINS_KEPT"]

JOINS_KEPT = 100_000  # joins not yet folded: about that many, the oldest trimmed first
FOLD_BATCH = 10_000


def announce(prefix: str, user_id: str) -> CommandCall:
    """The call that records ``user_id`` as a user of the deployment (tenant-safe)."""
    return CommandCall(("XADD", keys.registry_joins(prefix), "MAXLEN", "~", JOINS_KEPT, "*",
                        "u", keys.encode(user_id)))


def ask_for_limits(prefix: str, user_id: str) -> CommandCall:
    """The call a tenant makes when its user lacks a copy of the limits it may not
    write: a trusted worker provisions the users that ask (``take_limit_asks``)."""
    return CommandCall(("XADD", keys.limit_asks(prefix), "MAXLEN", "~", JOINS_KEPT, "*",
                        "u", keys.encode(user_id)))


def take_limit_asks(prefix: str) -> Operation[list[str]]:
    """The users that asked for their limits since the last take (trusted workers)."""
    asks = keys.limit_asks(prefix)
    entries = yield CommandCall(("XRANGE", asks, "-", "+", "COUNT", FOLD_BATCH))
    if not entries:
        return []
    yield CommandCall(("XTRIM", asks, "MINID", _next_id(entries[-1][0])))
    return sorted({keys.decode(_member(fields)) for _, fields in entries if _member(fields)})


def _member(fields: Any) -> Any:
    return fields.get(b"u") or fields.get("u")


def forget(prefix: str, user_id: str) -> CommandCall:
    """The call that drops ``user_id`` from the registry (admin)."""
    return CommandCall(("SREM", keys.users_registry(prefix), keys.encode(user_id)))


def _next_id(entry_id: Any) -> str:
    ms, _, seq = text(entry_id).partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def fold(prefix: str) -> Operation[int]:
    """Move the joins into the registry set; returns how many joins were folded.

    Idempotent, so any number of readers may fold at once: each adds what it
    read (SADD) and then trims only below what it read.
    """
    joins, registry = keys.registry_joins(prefix), keys.users_registry(prefix)
    folded = 0
    while True:
        entries = yield CommandCall(("XRANGE", joins, "-", "+", "COUNT", FOLD_BATCH))
        if not entries:
            return folded
        members = {_member(fields) for _, fields in entries}
        yield CommandCall(("SADD", registry, *(m for m in members if m)))
        yield CommandCall(("XTRIM", joins, "MINID", _next_id(entries[-1][0])))
        folded += len(entries)
        if len(entries) < FOLD_BATCH:
            return folded


def users(prefix: str) -> Operation[list[str]]:
    """Every registered user id, sorted (after folding the joins)."""
    yield from fold(prefix)
    registry, cursor = keys.users_registry(prefix), b"0"
    found: set[str] = set()
    while True:
        cursor, members = yield CommandCall(("SSCAN", registry, cursor, "COUNT", 1000))
        found |= {keys.decode(m) for m in members}
        if int(cursor) == 0:
            return sorted(found)
