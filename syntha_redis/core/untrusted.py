"""Reading what tenants can write: every byte a trusted process reads from Redis.

A tenant's credentials (``syntha_redis.ops.acl``) let it write anything into
its own keys and append anything to the registry streams, bypassing the
scripts. So the trusted processes (the snapshot worker, the registry fold, the
sweeper, the mesh-wide metrics, ``limits sync``, ``snapshot verify`` and
``restore``) parse each stream entry, item hash, registry member and counter
here, into typed values or a ``Malformed`` reason, and never let a parse
raise.

What is malformed is *set aside* (``set_aside``): logged once with the user
and the key, counted in ``syntha_redis_malformed_data_total{reader, kind}``,
and then acknowledged or dropped by the caller, so it is never retried and
never stops another user. ``summary()`` is what ``/ready`` shows of it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from syntha_redis.core import keys
from syntha_redis.exceptions import (
    SynthaConnectionError,
    SynthaError,
    SynthaPermissionError,
    SynthaTimeoutError,
    SynthaValidationError,
)

__all__ = [
    "BIGINT_MAX",
    "Event",
    "EVENT_TYPES",
    "Item",
    "Malformed",
    "counter",
    "event",
    "identifier",
    "integer",
    "item",
    "names",
    "rows_refused",
    "set_aside",
    "summary",
    "user_fault",
]

T = TypeVar("T")

log = logging.getLogger("syntha_redis.untrusted")

# Versions, times and counters go to Postgres BIGINT columns: one past this
# fails the whole statement ("bigint out of range"), so it is refused here.
BIGINT_MAX = 2**63 - 1
# Longest identifier (item key, topic, agent, user) a trusted reader accepts.
# Above every library default (keys 1,024 characters, names 256).
MAX_IDENTIFIER = 4096
# A token of safe characters only is its own name, and a valid one (keys.encode)
_PLAIN = re.compile(rb"[A-Za-z0-9._-]{1,%d}" % MAX_IDENTIFIER)
EVENT_TYPES = frozenset({"pushed", "updated", "deleted", "expired", "cleared", "subscribed",
                         "permissions", "topic_deleted"})


@dataclass(frozen=True, slots=True)
class Malformed:
    """Why a read could not be used. ``kind`` is the metric label: a few fixed words."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Event:
    """One change-stream entry, as the scripts write it (``lua/_prelude.lua`` emit)."""

    type: str
    version: int
    token: str = ""  # the item key's token (pushed, updated, deleted, expired)
    key: str = ""
    topics: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = ()
    agent: str = ""  # subscribed, permissions
    topic: str = ""  # topic_deleted


@dataclass(frozen=True, slots=True)
class Item:
    """One item hash read with ``HMGET`` of the snapshot's fields."""

    value: bytes
    version: int
    author: str | None
    created_ms: int
    expires_ms: int | None
    topics: tuple[str, ...]
    subscribers: tuple[str, ...]


class _Refused(Exception):
    """Carries a Malformed out of nested parsing; never leaves this module."""

    def __init__(self, problem: Malformed) -> None:
        super().__init__(problem.detail)
        self.problem = problem


def _must(found: T | Malformed) -> T:
    if isinstance(found, Malformed):
        raise _Refused(found)
    return found


def _text(raw: Any, what: str) -> str | Malformed:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            return bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            return Malformed("undecodable", f"{what} is not ASCII: {bytes(raw)[:40]!r}")
    return Malformed("wrong_type", f"{what} is a {type(raw).__name__}")


def integer(raw: Any, what: str, low: int = 0, high: int = BIGINT_MAX) -> int | Malformed:
    """A decimal integer within [low, high] (Redis replies are bytes)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    else:
        found = _text(raw, what)
        if isinstance(found, Malformed):
            return found
        # only plain ASCII digits: int() would also take ' 7', '1_000' and
        # 4,300-digit strings (the last slowly)
        digits = found[1:] if found[:1] == "-" else found
        if not (digits.isascii() and digits.isdigit()):
            return Malformed("bad_integer", f"{what} is not an integer: {found[:40]!r}")
        if len(digits) > 19:
            return Malformed("out_of_range", f"{what} has {len(digits)} digits: {found[:40]!r}")
        number = int(found)
    if not low <= number <= high:
        return Malformed("out_of_range", f"{what} {number} is outside [{low}, {high}]")
    return number


def counter(raw: Any, what: str) -> int | Malformed:
    """A counter that may be missing (0): byte counts, times, versions of events."""
    return 0 if raw is None else integer(raw, what)


def identifier(raw: Any, what: str) -> tuple[str, str] | Malformed:
    """(name, token) of a token as ``keys.encode`` writes it.

    Refuses what ``keys.encode`` never produces: bytes that are not ASCII,
    percent-escapes that are not UTF-8, a non-canonical form (``%41`` for
    ``A``, which would name another hash than the one it came from), and
    names the library refuses (control characters, too long, empty).
    """
    if isinstance(raw, bytes) and _PLAIN.fullmatch(raw):
        name = raw.decode("ascii")  # the common case: a token of safe characters only
        return name, name
    token = _text(raw, what)
    if isinstance(token, Malformed):
        return token
    try:
        name = unquote(token, errors="strict") if "%" in token else token
    except UnicodeDecodeError:
        return Malformed("undecodable", f"{what} escapes no UTF-8 text: {token[:40]!r}")
    if keys.encode(name) != token:
        return Malformed("bad_identifier",
                         f"{what} is not a token keys.encode makes: {token[:40]!r}")
    try:
        keys.validate_identifier(name, what, MAX_IDENTIFIER)
    except SynthaValidationError as e:
        return Malformed("bad_identifier", e.message)
    return name, token


def names(raw: Any, what: str) -> tuple[str, ...] | Malformed:
    """The names of a csv of tokens (topics, subscribers); missing = none."""
    if raw is None or raw in (b"", ""):
        return ()
    try:
        return tuple(_must(identifier(t, what))[0] for t in _must(_text(raw, what)).split(","))
    except _Refused as e:
        return e.problem


def _field(fields: Mapping[Any, Any], name: str) -> Any:
    found = fields.get(name.encode())
    return fields.get(name) if found is None else found


def event(fields: Mapping[Any, Any]) -> Event | Malformed:
    """The change event of a stream entry's fields, or why it is not one."""
    try:
        kind = _must(_text(_field(fields, "type"), "event type"))
        if kind not in EVENT_TYPES:
            return Malformed("unknown_event", f"event type {kind[:40]!r}")
        version = _must(counter(_field(fields, "ver"), "event version"))
        if kind in ("pushed", "updated", "deleted", "expired"):
            key, token = _must(identifier(_field(fields, "key"), "event key"))
            return Event(kind, version, token=token, key=key,
                         topics=_must(names(_field(fields, "topics"), "event topics")),
                         subscribers=_must(names(_field(fields, "subs"), "event subscribers")))
        if kind in ("subscribed", "permissions"):
            return Event(kind, version,
                         agent=_must(identifier(_field(fields, "agent"), "event agent"))[0],
                         topics=_must(names(_field(fields, "topics"), "event topics")))
        if kind == "topic_deleted":
            return Event(kind, version,
                         topic=_must(identifier(_field(fields, "topic"), "event topic"))[0])
        return Event(kind, version)  # cleared
    except _Refused as e:
        return e.problem


def item(h: Any) -> Item | Malformed | None:
    """An item hash read with HMGET (value, version, author, created, expires,
    topics, subs); None if it is gone."""
    if not isinstance(h, list | tuple) or len(h) != 7:
        return Malformed("wrong_type", f"item reply is a {type(h).__name__}")
    value, version, author, created, expires, topics, subs = h
    if value is None or version is None:
        return None
    try:
        if not isinstance(value, bytes):
            raise _Refused(Malformed("wrong_type", "item value is not bytes"))
        return Item(
            value, _must(integer(version, "item version")),
            _must(identifier(author, "item author"))[0] if author else None,
            _must(counter(created, "item created")),
            _must(counter(expires, "item expiry")) or None,
            _must(names(topics, "item topics")), _must(names(subs, "item subscribers")),
        )
    except _Refused as e:
        return e.problem


# -- whose fault -------------------------------------------------------------------------


def user_fault(error: SynthaError) -> bool:
    """Whether Redis or the database refused one user's data (a wrong key type, a
    row out of range) rather than failed as a whole (unreachable, timed out) or
    refused this process (a permission its credentials lack: no data causes that,
    and the capture must say it cannot run)."""
    return not isinstance(error, SynthaConnectionError | SynthaTimeoutError
                          | SynthaPermissionError)


def rows_refused(error: SynthaError) -> bool:
    """Whether the snapshot database refused the rows themselves (a value out of
    range, a constraint, a key too long to index), not failed (down, locked)."""
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:  # Postgres: data exception, integrity, program limit exceeded
        return str(sqlstate)[:2] in ("22", "23", "54")
    return isinstance(cause, sqlite3.DataError | sqlite3.IntegrityError | sqlite3.InterfaceError)


# -- setting aside -------------------------------------------------------------------

LOG_EVERY = 600.0  # s: the same problem of the same user and key is logged once a while
_SEEN_KEPT = 10_000  # problems remembered for that (the oldest forgotten first)
_USERS_KEPT = 10_000

_lock = threading.Lock()
_logged: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()
_users: OrderedDict[str, None] = OrderedDict()
_by_kind: dict[str, int] = {}
_last: dict[str, Any] | None = None
_metric: Any = None


def _counter() -> Any:
    """The Prometheus counter, in the default registry (None without prometheus-client:
    then ``summary()`` alone reports what was set aside)."""
    global _metric
    if _metric is None:
        try:
            from prometheus_client import Counter
        except ImportError:
            _metric = False
        else:
            _metric = Counter("syntha_redis_malformed_data",
                              "Entries and keys tenants wrote that a trusted reader set aside",
                              ("reader", "kind"))
    return _metric or None


def set_aside(reader: str, user: str | None, where: str, problem: Malformed,
              count: int = 1) -> None:
    """Account for ``count`` unusable reads of ``user``'s ``where`` (a key or stream
    entry): counted, and logged unless the same was logged in the last LOG_EVERY s."""
    global _last
    now = time.time()
    seen = (reader, user or "", where, problem.kind)
    with _lock:
        metric = _counter()
        if metric is not None:
            metric.labels(reader, problem.kind).inc(count)
        _by_kind[problem.kind] = _by_kind.get(problem.kind, 0) + count
        if user is not None:
            _users[user] = None
            _users.move_to_end(user)
            while len(_users) > _USERS_KEPT:
                _users.popitem(last=False)
        _last = {"reader": reader, "user": user, "where": where, "kind": problem.kind,
                 "detail": problem.detail, "at": now}
        due = now - _logged.get(seen, -LOG_EVERY) >= LOG_EVERY
        if due:
            _logged[seen] = now
            _logged.move_to_end(seen)
            while len(_logged) > _SEEN_KEPT:
                _logged.popitem(last=False)
    if due:
        whose = "" if user is None else f" of user {user!r}"
        log.warning("%s set aside %d unusable read(s) of %s%s (%s): %s", reader, count, where,
                    whose, problem.kind, problem.detail)


def summary() -> dict[str, Any]:
    """What this process set aside so far (for ``/ready``)."""
    with _lock:
        return {"set_aside": sum(_by_kind.values()), "by_kind": dict(_by_kind),
                "users": len(_users), "last": _last}
