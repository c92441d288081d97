"""Mesh-wide gauges read from Redis: what ``syntha-redis serve`` adds to ``/metrics``.

``syntha_redis.core.metrics`` counts what one process did; these gauges say what
the whole mesh holds, whichever process wrote it, so one scrape target gives
the fleet's picture (labelled with the key ``prefix``)::

    syntha_redis_mesh_up                       1 if Redis answered this reading
    syntha_redis_mesh_users                    users in the registry (every user that wrote)
    syntha_redis_mesh_items                    live items, all users
    syntha_redis_mesh_bytes                    encoded value bytes held, expired items not
                                               yet pruned included (quotas skip those)
    syntha_redis_mesh_stream_events            events held in the users' change streams
    syntha_redis_mesh_sweeper_backlog          items past their expiry whose index entries
                                               and ``expired`` events wait for a sweep
    syntha_redis_mesh_snapshot_lag_seconds     age of the oldest change not yet in the
                                               snapshot (only once a snapshotter has run)
    syntha_redis_mesh_snapshot_pending         events a snapshotter read and has not yet
                                               acknowledged
    syntha_redis_mesh_read_seconds             how long this reading took

Users come from ``users()``, the one place this module learns who exists; the
per-user reads go out in pipelines of ``CHUNK`` users (``Store`` runs one call
at a time, and a scrape of many users needs few round trips, as the
snapshotter's capture does). A reading is cached for ``max_age`` seconds, so
several Prometheus replicas scraping the same service cost Redis one reading.

Every counter is read as untrusted input (``syntha_redis.core.untrusted``): a
tenant may write ``abc`` into its byte counter or replace its stream with a
string. Such a user's unusable figures are left out and counted in
``syntha_redis_malformed_data_total``; the reading of everyone else stands.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from syntha_redis.core import keys, registry, untrusted
from syntha_redis.core.codec import text
from syntha_redis.core.connection import translate_error
from syntha_redis.core.store import Store
from syntha_redis.exceptions import SynthaError

__all__ = ["FleetMetrics", "FleetReading", "read_fleet", "users", "CONTENT_TYPE"]

log = logging.getLogger("syntha_redis.fleet_metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CHUNK = 500  # users per pipeline

# name -> (type, help); the order is the order of the exposition
SERIES: dict[str, tuple[str, str]] = {
    "up": ("gauge", "1 if Redis answered the last reading of the mesh, else 0"),
    "users": ("gauge", "Users in the registry (every user that has written)"),
    "items": ("gauge", "Live context items, all users"),
    "bytes": ("gauge", "Encoded value bytes held, all users, including items past their "
                       "expiry not yet pruned (the sweeper backlog); byte quotas skip those"),
    "stream_events": ("gauge", "Events held in the users' change streams"),
    "sweeper_backlog": ("gauge", "Items past their expiry not yet pruned by a script or sweep"),
    "snapshot_lag_seconds": ("gauge", "Age of the oldest change not yet in the snapshot"),
    "snapshot_pending": ("gauge", "Events read by a snapshotter and not yet acknowledged"),
    "read_seconds": ("gauge", "Time this reading of the mesh took"),
}


def users(store: Store) -> list[str]:
    """Every user id of ``store``'s mesh, from the users registry (never a keyspace
    SCAN). The only place this module learns who exists."""
    return registry.users(store)


@dataclass
class FleetReading:
    """One reading of the whole mesh. The snapshot figures are None while no
    stream has a snapshot consumer group (no snapshotter has ever run)."""

    up: bool = True
    users: int = 0
    items: int = 0
    bytes: int = 0
    stream_events: int = 0
    sweeper_backlog: int = 0
    snapshot_lag_seconds: float | None = None
    snapshot_pending: int | None = None
    read_seconds: float = 0.0
    error: str | None = None

    def render(self, prefix: str) -> str:
        """The Prometheus text exposition of this reading."""
        label = f'{{prefix="{prefix}"}}'
        lines = []
        for name, (kind, help_text) in SERIES.items():
            value = getattr(self, name)
            if value is None or (not self.up and name not in ("up", "read_seconds")):
                continue  # unknown is absent, never a made-up zero
            metric = f"syntha_redis_mesh_{name}"
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}",
                      f"{metric}{label} {float(value):g}"]
        return "\n".join(lines) + "\n"


@dataclass
class _Waiting:
    """What the snapshot has not caught up with yet, gathered chunk by chunk."""

    grouped: bool = False  # some stream has the snapshot group: a snapshotter ran
    oldest: list[int] = field(default_factory=list)  # per stream: oldest unacked event (ms)
    pending: int = 0  # events read and not yet acknowledged


def read_fleet(store: Store) -> FleetReading:
    """Read every user's counts from ``store``'s Redis; raises SynthaError."""
    start = time.perf_counter()
    reading = FleetReading()
    client: Any = store.client
    try:
        seconds, micros = client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        found = users(store)
        reading.users = len(found)
        waiting = _Waiting()
        for first in range(0, len(found), CHUNK):
            _read_chunk(store, found[first:first + CHUNK], now_ms, reading, waiting)
    except redis.RedisError as e:
        raise translate_error(e, store.settings, "fleet metrics") from e
    if waiting.grouped:
        oldest = min(waiting.oldest, default=now_ms)
        reading.snapshot_lag_seconds = max(0.0, (now_ms - oldest) / 1000)
        reading.snapshot_pending = waiting.pending
    reading.read_seconds = time.perf_counter() - start
    return reading


def _read_chunk(store: Store, chunk: list[str], now_ms: int, reading: FleetReading,
                waiting: _Waiting) -> None:
    """Add ``chunk``'s counts to ``reading`` and what its streams wait for to ``waiting``."""
    roots = [keys.UserKeys(store.settings.key_prefix, user).root for user in chunk]
    pipe = store.client.pipeline(transaction=False)
    for root in roots:
        pipe.scard(root + keys.ITEMS)
        pipe.get(root + keys.BYTES)
        pipe.xlen(root + keys.STREAM)
        pipe.zcount(root + keys.EXPIRY, "-inf", now_ms)
        pipe.xinfo_groups(root + keys.STREAM)
    replies = pipe.execute(raise_on_error=False)
    streams: list[tuple[str, dict[str, Any] | None]] = []
    for i, (user, root) in enumerate(zip(chunk, roots, strict=True)):
        stored, size, events, expired = (
            _figure(user, root + suffix, reply) for suffix, reply in
            zip((keys.ITEMS, keys.BYTES, keys.STREAM, keys.EXPIRY), replies[5 * i: 5 * i + 4],
                strict=True))
        groups = replies[5 * i + 4]
        reading.items += max(0, stored - expired)
        reading.bytes += size
        reading.stream_events += events
        reading.sweeper_backlog += expired
        if isinstance(groups, Exception):
            continue  # no stream (or not a stream): nothing of this user waits
        # one capture group per snapshot database: the one furthest behind counts
        ours = [g for g in groups if keys.is_snapshot_group(text(g["name"]))]
        behind = min(ours, key=lambda g: _id(g["last-delivered-id"]), default=None)
        streams.append((root + keys.STREAM, behind))
    _oldest_waiting(store, streams, waiting)


def _oldest_waiting(store: Store, streams: list[tuple[str, dict[str, Any] | None]],
                    waiting: _Waiting) -> None:
    """The oldest unacknowledged event of each stream, as the snapshotter counts lag
    (``Snapshotter.lag``, without its gap check): its oldest pending entry, or the first entry
    after the group's last delivered one; a stream without the group waits whole."""
    if not streams:
        return
    pipe = store.client.pipeline(transaction=False)
    shape = []
    for stream, group in streams:
        start = "-" if group is None else f"({text(group['last-delivered-id'])}"
        pipe.xrange(stream, start, "+", count=1)
        pending = bool(group and group["pending"])
        if pending:
            pipe.xpending(stream, text(group["name"]))  # type: ignore[index]
        shape.append(pending)
    replies = iter(pipe.execute(raise_on_error=False))
    for pending in shape:
        after = next(replies)
        times = [] if isinstance(after, Exception) or not after else [_ms(after[0][0])]
        if pending:
            summary = next(replies)
            if not isinstance(summary, Exception) and summary["min"] is not None:
                times.append(_ms(summary["min"]))
                waiting.pending += int(summary["pending"])
        if times:
            waiting.oldest.append(min(times))
    waiting.grouped |= any(group is not None for _, group in streams)


def _figure(user: str, key: str, reply: Any) -> int:
    """One user's count, or 0 with the reason set aside (a wrong key type, a byte
    counter that is not a number)."""
    if isinstance(reply, redis.ConnectionError | redis.TimeoutError):
        raise reply
    found = untrusted.Malformed("refused_by_redis", str(reply)) if isinstance(
        reply, Exception) else untrusted.counter(reply, "count")
    if isinstance(found, untrusted.Malformed):
        untrusted.set_aside("fleet metrics", user, key, found)
        return 0
    return found


def _ms(entry_id: str | bytes) -> int:
    return int(text(entry_id).split("-")[0])


def _id(entry_id: str | bytes) -> tuple[int, int]:
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)


class FleetMetrics:
    """``read_fleet`` for a scrape endpoint: cached ``max_age`` seconds, and an
    unreachable Redis rendered as ``syntha_redis_mesh_up 0`` instead of raised."""

    def __init__(self, store: Store, max_age: float = 5.0) -> None:
        self.store = store
        self.max_age = max_age
        self._lock = threading.Lock()
        self._reading: FleetReading | None = None
        self._read_at = 0.0

    def reading(self) -> FleetReading:
        with self._lock:  # concurrent scrapes wait for one reading, not start their own
            now = time.monotonic()
            if self._reading is None or now - self._read_at >= self.max_age:
                try:
                    self._reading = read_fleet(self.store)
                except SynthaError as e:
                    self._reading = FleetReading(up=False, error=e.message)
                except Exception as e:  # a bug met by some data: a scrape still answers
                    log.exception("reading the mesh's metrics failed")
                    self._reading = FleetReading(up=False, error=f"{type(e).__name__}: {e}")
                self._read_at = now
            return self._reading

    def exposition(self) -> str:
        return self.reading().render(self.store.settings.key_prefix)
