"""Restore a user's mesh (or every user's) from the snapshot, and verify the two agree.

Restore sends the snapshot's live rows to ``lua/restore.lua`` in chunks; the
script applies a row only if it is newer than Redis's copy, so a restore is
idempotent and safe over a partly filled Redis. It also lifts the user's
version counter above every captured version, so writes made after the
restore are never older than what the snapshot holds, and last sets the
user's epoch marker, which lets guarded meshes act on the keyspace again.

Both read keys a tenant can write. A user whose keys Redis refuses (a wrong
type) is reported and skipped, never the end of a restore or a verify of
every user; an item hash that does not parse (``syntha_redis.core.untrusted``)
is a difference that ``verify`` shows.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from syntha_redis.core import keys, registry, untrusted
from syntha_redis.core.calls import CommandCall, Operation, ScriptCall
from syntha_redis.core.codec import text
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import translate_error
from syntha_redis.core.store import Store
from syntha_redis.exceptions import SynthaConfigurationError, SynthaError, SynthaPersistenceError
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.rows import FLOOR_TTL_MS, NO_FLOOR, AgentRow, ItemRow, item_row

__all__ = ["RestoreReport", "Verification", "claim_user", "restore_user", "restore_all",
           "verify_user"]

CHUNK = 200  # rows per script call: keeps each call short for other clients


@dataclass
class RestoreReport:
    users: int = 0
    applied: int = 0
    not_newer: int = 0
    expired: int = 0
    agents: int = 0
    refused: list[str] = field(default_factory=list)  # users Redis refused to restore

    def add(self, other: RestoreReport) -> None:
        for name in ("users", "applied", "not_newer", "expired", "agents", "refused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _csv(names: list[str]) -> str:
    return ",".join(keys.encode(n) for n in names)


def _item_args(row: ItemRow) -> tuple[Any, ...]:
    return (keys.encode(row.key), row.value or b"", row.version,
            keys.encode(row.author) if row.author else "", row.created_ms,
            row.expires_ms or 0, _csv(row.topics), _csv(row.subscribers))


def _agent_args(row: AgentRow) -> tuple[Any, ...]:
    return (row.kind, keys.encode(row.agent), _csv(row.topics))


def claim_user(settings: Settings, db: SnapshotDB, user_id: str) -> Operation[None]:
    """Record ``db`` as ``user_id``'s system of record, unless another database is.

    One snapshot database per user: two would each miss the other's writes,
    and whichever restored first after a loss would bring back deletions and
    lose acknowledged writes. Redis keeps the record (``<root>snapshot-db``);
    it is lost with Redis's data, and the first restore claims the user again.
    """
    name = keys.UserKeys(settings.key_prefix, user_id).snapshot_db
    mine = f"{db.capture_group} {db.full_name}"
    yield CommandCall(("SET", name, mine, "NX"))
    held = text((yield CommandCall(("GET", name))) or b"")
    if held and held.split(" ", 1)[0] != db.capture_group:
        raise SynthaConfigurationError(
            f"user {user_id!r} already keeps its snapshot in {held.split(' ', 1)[-1]}; "
            f"this mesh names {db.full_name}",
            config_key="connection_string",
            suggestions=["Give every mesh of one user the same snapshot database",
                         f"To move the user: restore it from the new database, then "
                         f"DEL {name} and attach the new database"],
        )


def restore_user(settings: Settings, db: SnapshotDB, user_id: str) -> RestoreReport:
    """Put ``user_id``'s snapshot back into Redis (rows newer than Redis's only)."""
    store = Store(settings)
    root = keys.UserKeys(settings.key_prefix, user_id).root
    store.run(claim_user(settings, db, user_id))
    items, agents = db.items(user_id), db.agents(user_id)
    floor = db.highest_version(user_id)
    report = RestoreReport(users=1)
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)] or [[]]
    for n, chunk in enumerate(chunks):
        args: list[Any] = [floor, len(chunk)]
        for row in chunk:
            args += _item_args(row)
        if n == len(chunks) - 1:
            for agent in agents:
                args += _agent_args(agent)
        reply = store.execute(ScriptCall("restore", root, tuple(args)))
        if int(reply[0]) < 0:
            raise SynthaPersistenceError(
                f"restore of user {user_id!r} rejected argument {int(reply[2])}",
                backend="redis",
                operation="restore",
                suggestions=["Run `syntha-redis snapshot verify` and report the rows it shows"],
            )
        applied, not_newer, expired, restored_agents = (int(x) for x in reply)
        report.add(RestoreReport(0, applied, not_newer, expired, restored_agents))
    if items or agents:
        # the user has a mesh again: let snapshotters find it (the registry
        # may have been lost with the rest of Redis)
        store.execute(registry.announce(settings.key_prefix, user_id))
    # a snapshot captures this user: no trim outruns it (lua/_prelude.lua)
    store.execute(CommandCall(("SET", root + keys.CAPTURED, NO_FLOOR, "NX", "PX", FLOOR_TTL_MS)))
    # Last: the epoch marker says the snapshot is back, and lets guarded calls
    # through (syntha_redis.snapshot.guard).
    marker = f"restored {report.applied} rows at {int(time.time() * 1000)} by {_worker_id()}"
    epoch = keys.UserKeys(settings.key_prefix, user_id).epoch(db.capture_group)
    store.execute(CommandCall(("SET", epoch, marker)))
    return report


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def restore_all(
    settings: Settings, db: SnapshotDB, progress: Callable[[int, int], None] | None = None
) -> RestoreReport:
    """Restore every user of the snapshot; ``progress(done, total)`` after each one.
    A user whose keys Redis refuses is set aside in ``refused``; the others go on."""
    total = RestoreReport()
    users = db.users()
    for done, user in enumerate(users, 1):
        try:
            total.add(restore_user(settings, db, user))
        except SynthaError as e:
            if not untrusted.user_fault(e):
                raise
            untrusted.set_aside("snapshot restore", user,
                                keys.UserKeys(settings.key_prefix, user).root,
                                untrusted.Malformed("refused_by_redis", e.message))
            total.refused.append(user)
        if progress is not None:
            progress(done, len(users))
    return total


@dataclass
class Difference:
    key: str
    redis: str
    snapshot: str


@dataclass
class Verification:
    user_id: str
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)


def verify_user(settings: Settings, db: SnapshotDB, user_id: str) -> Verification:
    """Compare the user's live items in Redis with the snapshot's."""
    store = Store(settings)
    uk = keys.UserKeys(settings.key_prefix, user_id)
    now_ms = int(time.time() * 1000)
    try:
        members: Any = store.client.smembers(uk.items)
        parsed = [untrusted.identifier(m, "item token") for m in members]
        toks = sorted(p[1] for p in parsed if not isinstance(p, untrusted.Malformed))
        pipe = store.client.pipeline(transaction=False)
        for tok in toks:
            pipe.hmget(uk.item_by_token(tok), keys.ITEM_HASH_FIELDS)
        replies = pipe.execute(raise_on_error=False)
    except redis.ResponseError as e:  # the index itself is not a set
        replies, toks = [], []
        parsed = [untrusted.Malformed("refused_by_redis", str(e))]
    except redis.RedisError as e:
        raise translate_error(e, settings, "verify") from e
    in_redis: dict[str, ItemRow | untrusted.Malformed] = {}
    for tok, h in zip(toks, replies, strict=True):
        row = untrusted.Malformed("refused_by_redis", str(h)) if isinstance(
            h, Exception) else item_row(user_id, keys.decode(tok), h)
        if isinstance(row, untrusted.Malformed):
            in_redis[keys.decode(tok)] = row
        elif row is not None and not _expired(row, now_ms):
            in_redis[row.key] = row
    in_db = {r.key: r for r in db.items(user_id) if not _expired(r, now_ms)}
    result = Verification(user_id, checked=len(set(in_redis) | set(in_db)))
    for problem in parsed:
        if isinstance(problem, untrusted.Malformed):
            result.differences.append(Difference(uk.items, _describe(problem), "-"))
    for key in sorted(set(in_redis) | set(in_db)):
        a, b = in_redis.get(key), in_db.get(key)
        if not isinstance(a, ItemRow) or b is None or a.version != b.version \
                or a.value != b.value:
            result.differences.append(Difference(key, _describe(a), _describe(b)))
    return result


def _expired(row: ItemRow, now_ms: int) -> bool:
    return row.expires_ms is not None and row.expires_ms <= now_ms


def _describe(row: ItemRow | untrusted.Malformed | None) -> str:
    if isinstance(row, untrusted.Malformed):
        return f"unreadable ({row.kind}: {row.detail})"
    return "missing" if row is None else f"version {row.version}"
