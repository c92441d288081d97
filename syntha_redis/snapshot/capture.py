"""Capture: every user's change stream, through one consumer group, into the snapshot.

A pass reads new entries (``XREADGROUP ... >``) of each user's stream, turns
them into rows, writes them in one transaction and only then acknowledges
them (``XACK``). Entries a crashed snapshotter read but never acknowledged
stay pending; after ``claim_idle_ms`` any live snapshotter takes them over
(``XAUTOCLAIM``) and writes them again. Writes are idempotent and guarded by
version, so this at-least-once delivery neither loses nor duplicates rows,
and any number of snapshotter processes can share the work.

Nothing is lost silently. While a snapshot captures a user, no script trims
the user's stream past the capture's floor (``<root>captured``, moved by
``lua/snapshot_advance.lua`` after each acknowledgement), and deletions are
also kept where no trim reaches (``<root>gone``). Every pass checks each
user's floor; a floor gone from the stream (the hard cap, an operator's
XTRIM, a stream deleted) is a gap: the user is captured in full from Redis's
state, with those deletions, before the pass moves on (``recapture``).

Events carry no values: a pushed/updated event makes the snapshotter read the
item hash, and it stores whatever version it finds there (a newer version is
as true as the event's; a missing hash means a deletion or expiry event
follows). Users are found through the registry set the mesh maintains.

Tenants can write anything into their own streams and item hashes, so every
entry and hash is parsed as untrusted input (``syntha_redis.core.untrusted``):
a malformed one is set aside (logged, counted) and acknowledged with its
batch, and a user whose keys Redis refuses to read (a stream replaced by a
string: WRONGTYPE) is skipped, so one user's data never stops the others.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from syntha_redis.core import keys, limits, registry, untrusted
from syntha_redis.core.calls import ScriptCall
from syntha_redis.core.codec import text
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import translate_error
from syntha_redis.core.scripts import load_missing
from syntha_redis.core.store import Store
from syntha_redis.core.untrusted import rows_refused, user_fault
from syntha_redis.exceptions import SynthaConnectionError, SynthaError
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.reconcile import capture_user
from syntha_redis.snapshot.restore import restore_user
from syntha_redis.snapshot.rows import (
    FLOOR_TTL_MS,
    NO_FLOOR,
    PERMISSIONS,
    SUBSCRIBED,
    AgentRow,
    Batch,
    ItemRow,
    item_row,
)

__all__ = ["Snapshotter", "Entry", "Lag"]

log = logging.getLogger("syntha_redis.snapshot")

CHUNK = 64  # streams per pipelined read


@dataclass(frozen=True, slots=True)
class Entry:
    user_id: str
    stream: str
    id: bytes
    fields: dict[bytes, bytes]



@dataclass(frozen=True, slots=True)
class Lag:
    """What the snapshot has not captured yet: stream entries, the age of the oldest
    (seconds) and the users whose unread entries are gone (a full capture is due)."""

    entries: int = 0
    seconds: float = 0.0
    gaps: tuple[str, ...] = ()


class Snapshotter:
    """One consumer of the snapshot group. Call ``run_once`` or ``run`` in a loop."""

    def __init__(
        self,
        settings: Settings,
        db: SnapshotDB,
        users: Callable[[], Iterable[str]] | None = None,
        consumer: str | None = None,
        batch_size: int = 1000,
        claim_idle_ms: int = 30_000,
        poll_interval: float = 0.05,
        forget_idle_ms: int = 3_600_000,
        maintain_every: float | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self._store = Store(settings)
        self.client: Any = self._store.client
        self._users = users or self.registered_users
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.group = db.capture_group
        self.batch_size = batch_size
        self.claim_idle_ms = claim_idle_ms
        self.poll_interval = poll_interval
        # Every snapshotter process is a new consumer in every stream it reads;
        # without forgetting the dead ones each restart would leave one entry per
        # active user behind for good.
        self.forget_idle_ms = forget_idle_ms
        self.rows_written = 0
        self.recaptures = 0  # full captures after a gap
        self.failure: str | None = None  # why the last pass failed (None: it did not)
        # A trusted worker (admin credentials) also keeps what tenants may not
        # restore themselves: the scripts and the users' copies of the limits.
        self.maintain_every = maintain_every
        self._next_maintenance = 0.0
        self._next_claim = 0.0
        self._next_forget = 0.0
        self._backlog: list[Entry] = []
        self._keys: dict[str, keys.UserKeys] = {}
        # users whose keys Redis refused to read on the last pass, and why: set
        # aside (counted) once when they start failing, skipped while they do
        self.refused: dict[str, untrusted.Malformed] = {}
        self.last_pass_at: float | None = None  # time.time() of the last whole pass
        self._started = time.time()

    # -- users -----------------------------------------------------------------------

    def registered_users(self) -> list[str]:
        """Every user that ever wrote, from the registry (SSCAN, never a keyspace SCAN)."""
        return registry.users(self._store)

    def user_keys(self, user_id: str) -> keys.UserKeys:
        found = self._keys.get(user_id)
        if found is None:
            found = self._keys[user_id] = keys.UserKeys(self.settings.key_prefix, user_id)
        return found

    # -- the loop ----------------------------------------------------------------------

    def run(self, stop: Callable[[], bool], sleep: Callable[[float], object] = time.sleep,
            on_redis_failure: Callable[[], None] | None = None) -> None:
        """Capture until ``stop()`` is true; sleeps ``poll_interval`` when idle.

        Outlives its servers: a pass that fails (Redis or the database away,
        a permission denied, or a bug) is logged and retried with a backoff up
        to 5 s; ``failure`` says why until a pass succeeds again. Its entries
        stay pending and are written first on the next pass, so nothing is
        lost. ``on_redis_failure`` is called when a pass could not reach Redis.
        """
        backoff = self.poll_interval
        while not stop():
            try:
                if self.maintain_every and time.monotonic() >= self._next_maintenance:
                    self._next_maintenance = time.monotonic() + self.maintain_every
                    self.maintain()
                elif self.maintain_every:
                    # one batch of asks a pass: a flood of them costs each pass
                    # a few ms rather than one pass in a while much more
                    self.provision_asked()
                busy = self.run_once() > 0
                backoff, self.failure = self.poll_interval, None
            except SynthaError as e:
                self.failure = e.message
                log.warning("snapshot capture failed, retrying in %.1fs: %s", backoff, e)
                busy, backoff = False, min(backoff * 2, 5.0)
                if on_redis_failure is not None and isinstance(e, SynthaConnectionError):
                    on_redis_failure()
            except Exception as e:  # a bug met by some data: never the end of capture
                self.failure = f"{type(e).__name__}: {e}"
                log.exception("snapshot capture failed unexpectedly, retrying in %.1fs",
                              backoff)
                busy, backoff = False, min(backoff * 2, 5.0)
            if not busy:
                sleep(backoff)

    def status(self) -> tuple[bool, dict[str, Any]]:
        """For ``/ready``: whether a whole pass succeeded lately (or the worker started
        lately), with the last error and the users Redis refused."""
        age = None if self.last_pass_at is None else time.time() - self.last_pass_at
        since = time.time() - (self.last_pass_at or self._started)
        ok = since < max(30.0, 10 * self.poll_interval)
        return ok, {"capture": {"ok": ok, "last_pass_seconds_ago": age,
                                "last_error": self.failure,
                                "users_refused": len(self.refused)}}

    def maintain(self) -> tuple[int, int]:
        """Load the scripts the server lacks (after a restart, a failover or SCRIPT
        FLUSH) and provision the users that asked for their limits. For a worker
        with admin credentials, when tenants may do neither. Returns (scripts
        loaded, users provisioned)."""
        return self._store.run(load_missing()), self.provision_asked()

    def provision_asked(self) -> int:
        """Provision the users of one batch of limit asks (those with a keyspace);
        returns how many were provisioned."""
        provisioned = 0
        for user in registry.take_limit_asks(self._store):
            try:
                self._store.run(limits.provision(self.settings, self.user_keys(user).root))
                provisioned += 1
            except SynthaError as e:
                if not user_fault(e):
                    raise
                untrusted.set_aside("limit asks", user, self.user_keys(user).root + keys.LIMITS,
                                    untrusted.Malformed("refused_by_redis", e.message))
        return provisioned

    def run_once(self) -> int:
        """One pass over every user: new entries, plus idle ones of dead consumers.

        Returns the number of stream entries written and acknowledged.
        """
        done = 0
        if self._backlog:  # read but never written: the last write failed
            done += self.write(self._backlog)
        users = list(self._users())
        now = time.monotonic()
        claim, forget = now >= self._next_claim, now >= self._next_forget
        if claim:
            self._next_claim = now + max(self.claim_idle_ms / 1000 / 2, 0.01)
        if forget:
            self._next_forget = now + max(self.forget_idle_ms / 1000 / 6, 0.01)
        for start in range(0, len(users), CHUNK):
            gaps, chunk = self._check_floors(users[start : start + CHUNK])
            for user in gaps:
                self.recapture(user)
            self._backlog = self._read_new(chunk)
            if claim:  # without what this pass read already (a claim may take it too)
                read = {(e.stream, e.id) for e in self._backlog}
                self._backlog += [e for e in self._claim(chunk) if (e.stream, e.id) not in read]
            if self._backlog:
                done += self.write(self._backlog)
            if forget:
                self._forget_dead_consumers(chunk)
        self.last_pass_at, self.failure = time.time(), None
        return done

    def drain(self, timeout: float = 30.0) -> int:
        """Run passes until one finds nothing (used by --once and tests)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            n = self.run_once()
            total += n
            if n == 0:
                return total
        return total

    def write(self, entries: list[Entry]) -> int:
        """Rows for ``entries`` committed, then the entries acknowledged.

        If anything fails the entries stay pending and in ``_backlog``, and
        the next pass writes them first.
        """
        self._backlog = entries
        batch = self.rows(entries)
        try:
            self.db.write(batch)
        except SynthaError as e:
            if not rows_refused(e):
                raise
            batch = self._write_per_user(batch)
        self.rows_written += len(batch)
        lost = self._ack(entries)
        self._backlog = []
        for user in lost:
            self._reconcile(user)
        self._advance([e for e in entries if e.user_id not in lost])
        return len(entries)

    def _write_per_user(self, batch: Batch) -> Batch:
        """The database refused rows of ``batch``: write it user by user, and set
        aside the rows of the users it refuses. Returns what was written."""
        by_user: dict[str, Batch] = {}
        for row in batch.items:
            by_user.setdefault(row.user_id, Batch()).items.append(row)
        for agent in batch.agents:
            by_user.setdefault(agent.user_id, Batch()).agents.append(agent)
        for user, version in batch.clears:
            by_user.setdefault(user, Batch()).clears.append((user, version))
        written = Batch()
        for user, rows in by_user.items():
            try:
                self.db.write(rows)
            except SynthaError as e:
                if not rows_refused(e):
                    raise
                untrusted.set_aside("snapshot capture", user, self.user_keys(user).stream,
                                    untrusted.Malformed("refused_by_database", e.message),
                                    count=len(rows))
                continue
            written.items += rows.items
            written.agents += rows.agents
            written.clears += rows.clears
        return written

    # -- reading the streams -------------------------------------------------------------

    def _read_new(self, users: list[str], retry: bool = True) -> list[Entry]:
        streams = [self.user_keys(u).stream for u in users]
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xreadgroup(self.group, self.consumer, {stream: ">"},
                            count=self.batch_size)
        replies = self.call(pipe.execute, raise_on_error=False)
        entries: list[Entry] = []
        grouped = []
        for user, stream, reply in zip(users, streams, replies, strict=True):
            if isinstance(reply, Exception):
                # no group, or (fakeredis) no stream: create the group if there is one
                if not isinstance(reply, redis.ResponseError):
                    raise translate_error(reply, self.settings, "XREADGROUP")
                if "NOGROUP" not in str(reply) and "requires the key" not in str(reply):
                    self._refuse(user, stream, translate_error(reply, self.settings,
                                                               "XREADGROUP"))
                elif self._create_group(user, stream):
                    grouped.append(user)
                continue
            self.refused.pop(user, None)
            for _, messages in reply or []:
                entries += [Entry(user, stream, mid, f) for mid, f in messages]
        if grouped and retry:
            entries += self._read_new(grouped, retry=False)
        return entries

    def _create_group(self, user_id: str, stream: str) -> bool:
        """Start reading a stream from its first entry.

        No MKSTREAM: a user's idle stream expires by design and must not be
        recreated here. A new group means the user's earlier history may have
        been trimmed (or the stream deleted and written anew), so the user's
        current state is captured in full once.
        Returns whether the group exists now.
        """
        try:
            self.client.xgroup_create(stream, self.group, id="0")
        except redis.ResponseError as e:
            if "BUSYGROUP" in str(e):
                return True
            if "requires the key to exist" in str(e):
                return False
            self._refuse(user_id, stream, translate_error(e, self.settings, "XGROUP CREATE"))
            return False
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "XGROUP CREATE") from e
        self.recapture(user_id)  # the stream is read from now on, whatever it refused
        return True

    def _refuse(self, user_id: str, key: str, error: SynthaError) -> None:
        """Skip a user whose key Redis refused this pass (counted when it starts);
        raise what is not about the user's data (Redis away)."""
        if not user_fault(error):
            raise error
        if user_id not in self.refused:
            problem = untrusted.Malformed("refused_by_redis", error.message)
            untrusted.set_aside("snapshot capture", user_id, key, problem)
            self.refused[user_id] = problem

    def _claim(self, users: list[str]) -> list[Entry]:
        """Entries other (presumably dead) consumers left pending for claim_idle_ms."""
        entries: list[Entry] = []
        for user in users:
            stream = self.user_keys(user).stream
            start = "0-0"
            for _ in range(100):  # bounded: at most 100 x batch_size entries per pass
                try:
                    reply = self.client.xautoclaim(stream, self.group, self.consumer,
                                                   self.claim_idle_ms, start,
                                                   count=self.batch_size)
                except redis.ResponseError as e:
                    if "NOGROUP" not in str(e):
                        self._refuse(user, stream, translate_error(e, self.settings,
                                                                   "XAUTOCLAIM"))
                    break
                except redis.RedisError as e:
                    raise translate_error(e, self.settings, "XAUTOCLAIM") from e
                start = reply[0]
                entries += [Entry(user, stream, mid, f) for mid, f in reply[1] if f]
                if start in (b"0-0", "0-0"):
                    break
        return entries

    def _forget_dead_consumers(self, users: list[str]) -> None:
        """Delete consumers idle for ``forget_idle_ms`` with nothing pending (a live
        snapshotter touches every stream on each pass, so its idle time stays short;
        had one been forgotten, its next XREADGROUP would simply recreate it)."""
        for user in users:
            stream = self.user_keys(user).stream
            try:
                consumers = self.client.xinfo_consumers(stream, self.group)
            except redis.ResponseError:
                continue  # no stream or no group yet
            except redis.RedisError as e:
                raise translate_error(e, self.settings, "XINFO CONSUMERS") from e
            for c in consumers:
                name = text(c["name"])
                if name != self.consumer and not c["pending"] and c["idle"] >= self.forget_idle_ms:
                    self.call(self.client.xgroup_delconsumer, stream, self.group, name)

    def _ack(self, entries: list[Entry]) -> list[str]:
        """Acknowledge ``entries``; returns the users whose entries were no longer
        pending: their stream was lost (flushed, an empty restart) while the rows
        were written, so the rows may be newer than what Redis was restored to."""
        by_stream: dict[str, list[bytes]] = {}
        users: dict[str, str] = {}
        for e in entries:
            by_stream.setdefault(e.stream, []).append(e.id)
            users[e.stream] = e.user_id
        pipe = self.client.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self.group, *ids)
        replies = self.call(pipe.execute, raise_on_error=False)
        lost = []
        for (stream, ids), reply in zip(by_stream.items(), replies, strict=True):
            if isinstance(reply, redis.ResponseError):
                # the stream was replaced since it was read (with its pending
                # entries): nothing is left to acknowledge, nothing to retry
                self._refuse(users[stream], stream, translate_error(reply, self.settings,
                                                                    "XACK"))
            elif isinstance(reply, Exception):
                raise translate_error(reply, self.settings, "XACK")
            elif int(reply) < len(set(ids)):
                lost.append(users[stream])
        return lost

    def _reconcile(self, user_id: str) -> None:
        """Capture ``user_id`` in full, then put back into Redis the snapshot's rows
        that are newer than Redis's: a batch read before Redis lost the user's data
        may have been committed after the user was restored."""
        self.recapture(user_id)
        try:
            restore_user(self.settings, self.db, user_id)
        except SynthaError as e:
            self._refuse(user_id, self.user_keys(user_id).root, e)

    # -- entries to rows ---------------------------------------------------------------

    def rows(self, entries: list[Entry]) -> Batch:
        """The rows that ``entries`` stand for.

        Only events make tombstones (deleted, expired, cleared): an item whose
        hash is gone when it is read here is skipped, never taken as deleted,
        since Redis may have lost it (its own event says what happened).
        """
        batch = Batch()
        wanted: dict[tuple[str, str], None] = {}
        topic_deletions: list[tuple[str, str, int]] = []
        for e in entries:
            event = untrusted.event(e.fields)
            if isinstance(event, untrusted.Malformed):
                # acknowledged with the batch: set aside, never retried
                untrusted.set_aside("snapshot capture", e.user_id, e.stream,
                                    untrusted.Malformed(event.kind, f"entry {text(e.id)}: "
                                                        f"{event.detail}"))
                continue
            kind, ver = event.type, event.version
            if kind in ("pushed", "updated"):
                wanted[(e.user_id, event.token)] = None
            elif kind in ("deleted", "expired"):
                batch.items.append(ItemRow(e.user_id, event.key, None, list(event.topics),
                                           list(event.subscribers), None, ver, 0, None,
                                           deleted=True))
            elif kind == "cleared":
                batch.clears.append((e.user_id, ver))
            elif kind in (SUBSCRIBED, PERMISSIONS):
                batch.agents.append(AgentRow(e.user_id, event.agent, kind, list(event.topics),
                                             ver))
            elif kind == "topic_deleted":
                topic_deletions.append((e.user_id, event.topic, ver))
        batch.items += self.read_items(list(wanted))
        for user, topic, ver in sorted(topic_deletions, key=lambda d: d[2]):
            batch.agents += self.unfollowed(user, topic, ver, batch.agents)
        return batch

    def unfollowed(self, user_id: str, topic: str, version: int,
                   pending: list[AgentRow]) -> list[AgentRow]:
        """Followers' rows without ``topic``, stamped ``version`` (its deletion).

        A deleted topic leaves every follower without one event per agent.
        Their new topic sets are derived from the snapshot's rows and the rows
        of this batch older than the deletion, not read from Redis, which may
        have lost them.
        """
        before: dict[str, AgentRow] = {}
        for row in [*self.db.agents(user_id), *pending]:
            if row.user_id != user_id or row.kind != SUBSCRIBED or row.version >= version:
                continue
            known = before.get(row.agent)
            if known is None or known.version < row.version:
                before[row.agent] = row
        return [
            AgentRow(user_id, agent, SUBSCRIBED, [t for t in row.topics if t != topic], version)
            for agent, row in sorted(before.items())
            if topic in row.topics
        ]

    def read_items(self, wanted: list[tuple[str, str]]) -> list[ItemRow]:
        """Current rows of (user, key token) pairs; items already gone are skipped.

        One ``lua/snapshot_read.lua`` call per user, all in one pipeline.
        """
        by_user: dict[str, list[str]] = {}
        for user, tok in wanted:
            by_user.setdefault(user, []).append(tok)
        replies = self._read_hashes([(user, tuple(toks)) for user, toks in by_user.items()])
        found = []
        for (user, toks), reply in zip(by_user.items(), replies, strict=True):
            if isinstance(reply, SynthaError):
                if not user_fault(reply):
                    raise reply
                # one of the user's keys is not a hash: read its items one by one
                reply = [r[0] if isinstance(r, list) and r else r
                         for r in self._read_hashes([(user, (tok,)) for tok in toks])]
            for tok, h in zip(toks, reply, strict=True):
                if isinstance(h, SynthaError):
                    if not user_fault(h):
                        raise h
                    row: ItemRow | untrusted.Malformed | None = untrusted.Malformed(
                        "refused_by_redis", h.message)
                else:
                    row = item_row(user, keys.decode(tok), h) if h else None
                if isinstance(row, ItemRow):
                    found.append(row)
                elif row is not None:
                    untrusted.set_aside("snapshot capture", user,
                                        self.user_keys(user).item_by_token(tok), row)
        return found

    def _read_hashes(self, wanted: list[tuple[str, tuple[str, ...]]]) -> list[Any]:
        """``lua/snapshot_read.lua`` per (user, tokens): its reply, or its SynthaError."""
        return self._store.execute_scripts(
            [ScriptCall("snapshot_read", self.user_keys(user).root, toks)
             for user, toks in wanted], raise_on_error=False)

    # -- gaps: the capture floor (lua/snapshot_advance.lua) --------------------------

    def _check_floors(self, users: list[str]) -> tuple[list[str], list[str]]:
        """(the users whose stream lost entries this capture had not acknowledged,
        the users this capture serves). A user whose system of record is another
        snapshot database (``restore.claim_user``) is not this capture's: two
        would each move the one floor past what the other has not read."""
        replies = self._advance_floors([(u, "", "0", "0") for u in users])
        gaps, ours = [], []
        for user, reply in zip(users, replies, strict=True):
            if reply is None:
                continue
            # the record is the user's key, which a tenant can write: bytes, not text
            owner = reply[2] if isinstance(reply[2], bytes) else str(reply[2]).encode()
            if owner and owner.split(b" ", 1)[0] != self.group.encode():
                continue
            ours.append(user)
            if int(reply[0]) == 0:
                gaps.append(user)
        return gaps, ours

    def _advance_floors(self, calls: list[tuple[str, str, int | str, str]]) -> list[Any]:
        """``lua/snapshot_advance.lua`` per (user, floor, ttl, reset): its reply, or
        None for a user whose keys Redis refused (set aside, see ``_refuse``)."""
        replies = self._store.execute_scripts(
            [ScriptCall("snapshot_advance", self.user_keys(user).root, tuple(args))
             for user, *args in calls], raise_on_error=False)
        answered = []
        for (user, *_), reply in zip(calls, replies, strict=True):
            if isinstance(reply, SynthaError):
                self._refuse(user, self.user_keys(user).root, reply)
                reply = None
            answered.append(reply)
        return answered

    def recapture(self, user_id: str) -> int:
        """Capture ``user_id`` in full from Redis (with the deletions kept for the
        snapshot), then start its floor at the stream's first entry: what came
        before is in the capture. Returns the rows written (0 for a user whose keys
        Redis refused: set aside, see ``_refuse``)."""
        try:
            first = self.call(self.client.xrange, self.user_keys(user_id).stream, count=1)
            written = capture_user(self, user_id)
        except SynthaError as e:
            self._refuse(user_id, self.user_keys(user_id).root, e)
            return 0
        floor = text(first[0][0]) if first else NO_FLOOR
        self._advance_floors([(user_id, floor, FLOOR_TTL_MS, "1")])
        self.recaptures += 1
        return written

    def _advance(self, entries: list[Entry]) -> None:
        """Move each user's floor up to what this capture group acknowledged; a user
        whose floor was lost meanwhile is captured in full."""
        last: dict[str, bytes] = {}
        for e in entries:
            if e.user_id not in last or _id(e.id) > _id(last[e.user_id]):
                last[e.user_id] = e.id
        users = sorted(last)
        pipe = self.client.pipeline(transaction=False)
        for user in users:
            pipe.xpending(self.user_keys(user).stream, self.group)
        floors: dict[str, str] = {}
        for user, pending in zip(users, self.call(pipe.execute, raise_on_error=False),
                                 strict=True):
            if isinstance(pending, redis.ResponseError):
                continue  # the stream is gone since (a flush): the next pass sees it
            if isinstance(pending, Exception):
                raise translate_error(pending, self.settings, "XPENDING")
            oldest = pending["min"]  # another consumer's entries, or a failed write's
            floor = last[user] if oldest is None or _id(last[user]) < _id(oldest) else oldest
            floors[user] = text(floor)
        replies = self._advance_floors([(u, f, FLOOR_TTL_MS, "0") for u, f in floors.items()])
        for user, reply in zip(floors, replies, strict=True):
            if reply is not None and int(reply[0]) == 0:
                self.recapture(user)

    # -- lag ---------------------------------------------------------------------------

    def lag(self, users: Iterable[str] | None = None) -> Lag:
        """What is not captured over ``users``: entries, age of the oldest, gaps.

        Entries not yet acknowledged count, and so does a gap (a user whose
        unread entries are gone): its lag runs from its floor until the full
        capture, so it is never 0 while rows are missing.
        """
        now_s, now_us = self.call(self.client.time)
        now_ms = int(now_s) * 1000 + int(now_us) // 1000
        gaps, chosen = self._check_floors(list(users if users is not None else self._users()))
        entries, oldest = 0, None
        for user in chosen:
            waiting, count = self._waiting(user)
            if user in gaps:
                floor = text(self.call(self.client.get, self.user_keys(user).captured) or b"")
                since = _ms(floor) if floor[:1].isdigit() else (waiting or now_ms - 1)
                waiting = min(waiting or now_ms, since)
                count = max(count, 1)
            entries += count
            if waiting is not None:
                oldest = waiting if oldest is None else min(oldest, waiting)
        seconds = 0.0 if oldest is None else max(0.001 if entries else 0.0,
                                                 (now_ms - oldest) / 1000)
        return Lag(entries, seconds, tuple(gaps))

    @property
    def problem(self) -> str | None:
        """Why the capture does not run (its last pass failed), None while it does."""
        return None if self.failure is None else f"the snapshot capture fails: {self.failure}"

    def _waiting(self, user: str) -> tuple[int | None, int]:
        """(time in ms of the oldest entry not acknowledged, how many) in one stream."""
        stream = self.user_keys(user).stream
        try:
            groups = self.client.xinfo_groups(stream)
        except redis.ResponseError as e:
            if "no such key" in str(e).lower():
                return None, 0  # no stream: nothing is waiting
            raise translate_error(e, self.settings, "XINFO GROUPS") from e
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "XINFO GROUPS") from e
        ours = [g for g in groups if text(g["name"]) == self.group]
        if not ours:  # no group yet: the whole stream is waiting
            first = self.call(self.client.xrange, stream, count=1)
            return (_ms(first[0][0]) if first else None), int(self.call(self.client.xlen, stream))
        group, oldest = ours[0], []
        pending = int(group["pending"])
        if pending:
            summary = self.call(self.client.xpending, stream, self.group)
            if summary["min"] is None:  # acknowledged since XINFO answered
                pending = 0
            else:
                oldest.append(_ms(summary["min"]))
        unread = 0
        after = self.call(self.client.xrange, stream, f"({text(group['last-delivered-id'])}",
                          count=1)
        if after:
            oldest.append(_ms(after[0][0]))
            # Redis cannot count past a deleted entry (lag nil): the length bounds it
            unread = max(1, int(group["lag"] if group.get("lag") is not None
                                else self.call(self.client.xlen, stream)))
        return (min(oldest) if oldest else None), pending + unread

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as e:
            raise translate_error(e, self.settings, getattr(fn, "__name__", "redis")) from e


def _ms(entry_id: str | bytes) -> int:
    return int(text(entry_id).split("-")[0])


def _id(entry_id: str | bytes) -> tuple[int, int]:
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)
