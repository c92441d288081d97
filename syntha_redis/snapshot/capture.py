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

from syntha_redis.core import keys, limits, registry
from syntha_redis.core.codec import text
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import translate_error
from syntha_redis.core.scripts import load_missing
from syntha_redis.core.store import ScriptCall, Store
from syntha_redis.exceptions import SynthaConnectionError, SynthaError
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.reconcile import capture_user
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

__all__ = ["Snapshotter", "Entry", "Lag", "item_row", "tokens", "FLOOR_TTL_MS", "NO_FLOOR"]

log = logging.getLogger("syntha_redis.snapshot")

ITEM_FIELDS = ("value", "version", "author", "created", "expires", "topics", "subs")
CHUNK = 64  # streams per pipelined read
# A user's capture floor lapses after this long without a capture (its
# snapshot was turned off): then its stream is trimmed by length again.
FLOOR_TTL_MS = 7 * 86_400_000
NO_FLOOR = "0-0"  # floor of a user no capture has acknowledged anything of yet


@dataclass(frozen=True, slots=True)
class Entry:
    user_id: str
    stream: str
    id: bytes
    fields: dict[bytes, bytes]

    def get(self, name: str) -> str:
        return self.fields.get(name.encode(), b"").decode()


@dataclass(frozen=True, slots=True)
class Lag:
    """What the snapshot has not captured yet: stream entries, the age of the oldest
    (seconds) and the users whose unread entries are gone (a full capture is due)."""

    entries: int = 0
    seconds: float = 0.0
    gaps: tuple[str, ...] = ()


def tokens(csv: str | bytes | None) -> list[str]:
    """Decoded names from a csv of tokens."""
    return list(keys.decode_csv(csv or ""))


def item_row(user_id: str, key: str, h: list[Any]) -> ItemRow | None:
    """The row for an item hash read with HMGET ITEM_FIELDS (None if it is gone)."""
    if h[0] is None or h[1] is None:
        return None
    author = h[2].decode() if h[2] else ""
    expires = int(h[4] or 0)
    return ItemRow(user_id, key, bytes(h[0]), tokens(h[5]), tokens(h[6]),
                   keys.decode(author) if author else None, int(h[1]), int(h[3] or 0),
                   expires or None)


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

    # -- users -----------------------------------------------------------------------

    def registered_users(self) -> list[str]:
        """Every user that ever wrote, from the registry (SSCAN, never a keyspace SCAN)."""
        return self._store.run(registry.users(self.settings.key_prefix))

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
                busy = self.run_once() > 0
                backoff, self.failure = self.poll_interval, None
            except SynthaError as e:
                self.failure = e.message
                log.warning("snapshot capture failed, retrying in %.1fs: %s", backoff, e)
                busy, backoff = False, min(backoff * 2, 5.0)
                if on_redis_failure is not None and isinstance(e, SynthaConnectionError):
                    on_redis_failure()
            except Exception as e:  # a capture thread must not die: say why it stalls
                self.failure = f"{type(e).__name__}: {e}"
                log.exception("snapshot capture failed, retrying in %.1fs", backoff)
                busy, backoff = False, min(backoff * 2, 5.0)
            if not busy:
                sleep(backoff)

    def maintain(self) -> tuple[int, int]:
        """Load the scripts the server lacks (after a restart, a failover or SCRIPT
        FLUSH) and provision the users that asked for their limits. For a worker
        with admin credentials, when tenants may do neither. Returns (scripts
        loaded, users provisioned)."""
        loaded = self._store.run(load_missing())
        prefix = self.settings.key_prefix
        asked = self._store.run(registry.take_limit_asks(prefix))
        for user in asked:
            self._store.run(limits.provision(self.settings, self.user_keys(user).root))
        return loaded, len(asked)

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
            if claim:
                self._backlog += self._claim(chunk)
            if self._backlog:
                done += self.write(self._backlog)
            if forget:
                self._forget_dead_consumers(chunk)
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
        self.db.write(batch)
        self.rows_written += len(batch)
        lost = self._ack(entries)
        self._backlog = []
        for user in lost:
            self._reconcile(user)
        self._advance([e for e in entries if e.user_id not in lost])
        return len(entries)

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
                if not isinstance(reply, redis.ResponseError) or (
                        "NOGROUP" not in str(reply) and "requires the key" not in str(reply)):
                    raise translate_error(reply, self.settings, "XREADGROUP")
                if self._create_group(user, stream):
                    grouped.append(user)
                continue
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
            raise translate_error(e, self.settings, "XGROUP CREATE") from e
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "XGROUP CREATE") from e
        self.recapture(user_id)
        return True

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
                    if "NOGROUP" in str(e):
                        break
                    raise translate_error(e, self.settings, "XAUTOCLAIM") from e
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
        acked = self.call(pipe.execute)
        return [users[stream] for (stream, ids), n in zip(by_stream.items(), acked, strict=True)
                if int(n) < len(set(ids))]

    def _reconcile(self, user_id: str) -> None:
        """Capture ``user_id`` in full, then put back into Redis the snapshot's rows
        that are newer than Redis's: a batch read before Redis lost the user's data
        may have been committed after the user was restored."""
        # imported here: restore builds on this module (item_row, the floor)
        from syntha_redis.snapshot.restore import restore_user

        self.recapture(user_id)
        restore_user(self.settings, self.db, user_id)

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
            kind, ver = e.get("type"), int(e.get("ver") or 0)
            if kind in ("pushed", "updated"):
                wanted[(e.user_id, e.get("key"))] = None
            elif kind in ("deleted", "expired"):
                batch.items.append(ItemRow(e.user_id, keys.decode(e.get("key")), None,
                                           tokens(e.get("topics")), tokens(e.get("subs")),
                                           None, ver, 0, None, deleted=True))
            elif kind == "cleared":
                batch.clears.append((e.user_id, ver))
            elif kind in (SUBSCRIBED, PERMISSIONS):
                batch.agents.append(AgentRow(e.user_id, keys.decode(e.get("agent")), kind,
                                             tokens(e.get("topics")), ver))
            elif kind == "topic_deleted":
                topic_deletions.append((e.user_id, keys.decode(e.get("topic")), ver))
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
        replies = self._store.execute_scripts(
            [ScriptCall("snapshot_read", self.user_keys(user).root, tuple(toks))
             for user, toks in by_user.items()]
        )
        found = []
        for (user, toks), reply in zip(by_user.items(), replies, strict=True):
            for tok, h in zip(toks, reply, strict=True):
                row = item_row(user, keys.decode(tok), h) if h else None
                if row is not None:
                    found.append(row)
        return found

    # -- gaps: the capture floor (lua/snapshot_advance.lua) --------------------------

    def _check_floors(self, users: list[str]) -> tuple[list[str], list[str]]:
        """(the users whose stream lost entries this capture had not acknowledged,
        the users this capture serves). A user whose system of record is another
        snapshot database (``restore.claim_user``) is not this capture's: two
        would each move the one floor past what the other has not read."""
        replies = self._store.execute_scripts(
            [ScriptCall("snapshot_advance", self.user_keys(u).root, ("", "0", "0"))
             for u in users])
        ours = [u for u, reply in zip(users, replies, strict=True)
                if not text(reply[2]) or text(reply[2]).split(" ", 1)[0] == self.group]
        gaps = [u for u, reply in zip(users, replies, strict=True)
                if int(reply[0]) == 0 and u in ours]
        return gaps, ours

    def recapture(self, user_id: str) -> int:
        """Capture ``user_id`` in full from Redis (with the deletions kept for the
        snapshot), then start its floor at the stream's first entry: what came
        before is in the capture. Returns the rows written."""
        first = self.call(self.client.xrange, self.user_keys(user_id).stream, count=1)
        written = capture_user(self, user_id)
        floor = text(first[0][0]) if first else NO_FLOOR
        self._store.execute_scripts([ScriptCall(
            "snapshot_advance", self.user_keys(user_id).root, (floor, FLOOR_TTL_MS, "1"))])
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
        replies = self._store.execute_scripts(
            [ScriptCall("snapshot_advance", self.user_keys(u).root, (f, FLOOR_TTL_MS, "0"))
             for u, f in floors.items()])
        users = list(floors)
        for user, reply in zip(users, replies, strict=True):
            if int(reply[0]) == 0:
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
