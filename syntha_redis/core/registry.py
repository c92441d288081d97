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

Anyone with tenant credentials may append anything to the two streams, so
a fold trusts none of it (``syntha_redis.core.untrusted``):

- a member that is not a user token is dropped and counted;
- a user is added only once its keyspace exists (its version counter, which
  its first write creates and nothing deletes); a join read before that
  write lands is checked again for ``RECHECK_SECONDS``;
- each fold reads at most ``FOLD_BATCH`` entries, so a flood costs each
  trusted pass a bounded time and drains over several passes;
- an entry id far in the future (which would make every later ``XADD *``
  fail) gets the stream deleted, which resets its last id.

Limit asks are honoured only for users with a keyspace, so a flood of asks
leaves no limits keys behind.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import redis

from syntha_redis.core import keys, untrusted
from syntha_redis.core.calls import CommandCall
from syntha_redis.core.codec import text
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import translate_error

__all__ = ["announce", "ask_for_limits", "forget", "fold", "take_limit_asks", "users",
           "FOLD_BATCH", "JOINS_KEPT"]

JOINS_KEPT = 100_000  # joins not yet folded: about that many, the oldest trimmed first
FOLD_BATCH = 2_000  # entries one fold reads: ~10 ms of a trusted pass at most
RECHECK_SECONDS = 5.0
RECHECK_KEPT = 100  # joins waiting for their user's first write, per deployment
EXISTS_CHUNK = 1_000  # version counters per MGET
FUTURE_MS = 3_600_000  # an entry id this far past the clock was not made by XADD *

class Store(Protocol):
    """What the registry's readers use of a ``core.store.Store``: the store's
    module imports the limits, which use the registry, so none is imported here."""

    settings: Settings
    client: Any


_lock = threading.Lock()
_recheck: dict[str, dict[str, float]] = {}  # prefix -> token -> give up at (monotonic)


def announce(prefix: str, user_id: str) -> CommandCall:
    """The call that records ``user_id`` as a user of the deployment (tenant-safe)."""
    return CommandCall(("XADD", keys.registry_joins(prefix), "MAXLEN", "~", JOINS_KEPT, "*",
                        "u", keys.encode(user_id)))


def ask_for_limits(prefix: str, user_id: str) -> CommandCall:
    """The call a tenant makes when its user lacks a copy of the limits it may not
    write: a trusted worker provisions the users that ask (``take_limit_asks``)."""
    return CommandCall(("XADD", keys.limit_asks(prefix), "MAXLEN", "~", JOINS_KEPT, "*",
                        "u", keys.encode(user_id)))


def forget(prefix: str, user_id: str) -> CommandCall:
    """The call that drops ``user_id`` from the registry (admin)."""
    return CommandCall(("SREM", keys.users_registry(prefix), keys.encode(user_id)))


def fold(store: Store) -> int:
    """Move one batch of joins into the registry set; returns the users added.

    Idempotent, so any number of readers may fold at once: each adds what it
    read (SADD) and trims only below what it read.
    """
    prefix = store.settings.key_prefix
    registry = keys.users_registry(prefix)
    try:
        tokens = _take(store, keys.registry_joins(prefix), "registry fold")
        with _lock:
            tokens |= set(_recheck.setdefault(prefix, {}))
        # no SISMEMBER first: SADD of a member is idempotent, and every member
        # has a version counter, so the check would cost as much as it saves
        found = _with_keyspace(store, prefix, sorted(tokens))
        added = store.client.sadd(registry, *found) if found else 0
    except redis.RedisError as e:
        raise translate_error(e, store.settings, "registry fold") from e
    _wait_for_keyspace(prefix, tokens - found)
    return int(added)


def _wait_for_keyspace(prefix: str, missing: set[str]) -> None:
    """Keep joins without a keyspace for a recheck (the user's first write may not
    have landed yet), up to RECHECK_KEPT; drop them after RECHECK_SECONDS."""
    now = time.monotonic()
    with _lock:
        waiting = _recheck.setdefault(prefix, {})
        for token in set(waiting) - missing:
            del waiting[token]  # registered, or registered by another reader
        expired = [t for t in missing if waiting.get(t, now + 1) <= now]
        for token in expired:
            del waiting[token]
        dropped = len(expired)
        for token in sorted(missing - set(waiting) - set(expired)):
            if len(waiting) >= RECHECK_KEPT:
                dropped += 1
            else:
                waiting[token] = now + RECHECK_SECONDS
    if dropped:
        untrusted.set_aside("registry fold", None, keys.registry_joins(prefix),
                            untrusted.Malformed("no_keyspace", f"{dropped} joins of users "
                                                "that never wrote"), count=dropped)


def take_limit_asks(store: Store) -> list[str]:
    """The users that asked for their limits since the last take (one batch), those
    with a keyspace (a version counter) only (trusted workers)."""
    prefix = store.settings.key_prefix
    try:
        tokens = _take(store, keys.limit_asks(prefix), "limit asks")
        found = _with_keyspace(store, prefix, sorted(tokens))
    except redis.RedisError as e:
        raise translate_error(e, store.settings, "limit asks") from e
    if len(found) < len(tokens):
        untrusted.set_aside("limit asks", None, keys.limit_asks(prefix),
                            untrusted.Malformed("no_keyspace", "asks of users that never "
                                                "wrote"), count=len(tokens) - len(found))
    return sorted(keys.decode(t) for t in found)


def _take(store: Store, stream: str, reader: str) -> set[str]:
    """The valid user tokens of one batch of ``stream``, which is trimmed below it."""
    client: Any = store.client
    entries = client.xrange(stream, "-", "+", count=FOLD_BATCH)
    if not entries:
        return set()
    last = text(entries[-1][0])
    if _ms(last) > time.time() * 1000 + FUTURE_MS:
        client.delete(stream)  # XTRIM keeps the last id: only a new stream forgets it
        untrusted.set_aside(reader, None, stream, untrusted.Malformed(
            "future_id", f"entry id {last[:40]} is far in the future; the stream was reset"))
    else:
        client.xtrim(stream, minid=_next_id(last), approximate=False)
    tokens: set[str] = set()
    bad: dict[str, untrusted.Malformed] = {}
    counts: dict[str, int] = {}
    for _, fields in entries:
        found = untrusted.identifier(_member(fields), "registry member")
        if isinstance(found, untrusted.Malformed):
            bad.setdefault(found.kind, found)
            counts[found.kind] = counts.get(found.kind, 0) + 1
        else:
            tokens.add(found[1])
    for kind, problem in bad.items():
        untrusted.set_aside(reader, None, stream, problem, count=counts[kind])
    return tokens


def _with_keyspace(store: Store, prefix: str, tokens: list[str]) -> set[str]:
    """Which of ``tokens`` name a user whose version counter exists: MGET, not a
    pipeline of EXISTS (one command per thousand users, ~9x faster), and on a
    Cluster ``mget_nonatomic``, which groups the keys by slot."""
    client: Any = store.client
    mget = client.mget_nonatomic if isinstance(client, redis.RedisCluster) else client.mget
    found: set[str] = set()
    for first in range(0, len(tokens), EXISTS_CHUNK):
        chunk = tokens[first:first + EXISTS_CHUNK]
        # bytes: redis-py sends them as they are (most of a fold's time is packing)
        values = mget([f"{prefix}:{{u:{t}}}:{keys.VERSION}".encode() for t in chunk])
        found |= {t for t, value in zip(chunk, values, strict=True) if value is not None}
    return found


def users(store: Store) -> list[str]:
    """Every registered user id, sorted (after folding one batch of joins).

    A member that is not a user token (written before folds checked, or by
    hand) is removed and counted, never returned.
    """
    fold(store)
    registry, cursor = keys.users_registry(store.settings.key_prefix), 0
    client: Any = store.client
    found: set[str] = set()
    bad: list[Any] = []
    try:
        while True:
            cursor, members = client.sscan(registry, cursor, count=1000)
            for member in members:
                parsed = untrusted.identifier(member, "registry member")
                if isinstance(parsed, untrusted.Malformed):
                    untrusted.set_aside("registry", None, registry, parsed)
                    bad.append(member)
                else:
                    found.add(parsed[0])
            if int(cursor) == 0:
                break
        if bad:
            client.srem(registry, *bad)
    except redis.RedisError as e:
        raise translate_error(e, store.settings, "registry") from e
    return sorted(found)


def _member(fields: Any) -> Any:
    return fields.get(b"u") or fields.get("u")


def _ms(entry_id: str) -> int:
    ms, _, _ = entry_id.partition("-")
    return int(ms) if ms.isdigit() else 0


def _next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    if int(seq or 0) >= 2**64 - 1:  # the last sequence of its millisecond
        return f"{int(ms) + 1}-0"
    return f"{ms}-{int(seq or 0) + 1}"
