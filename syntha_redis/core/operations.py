"""What each mesh operation sends to Redis and how it reads the reply.

Every operation is a generator: it validates its input (raising
SynthaValidationError before anything is sent), yields the calls it needs and
turns the replies into results or SynthaErrors. ``ContextMesh`` runs these
with a sync ``Store``, ``AsyncContextMesh`` with an ``AsyncStore``; neither
repeats any of the logic here.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from syntha_redis.core import keys, limits, registry, untrusted
from syntha_redis.core.calls import CachedRead, CommandCall, Operation, ScriptCall
from syntha_redis.core.codec import UNREADABLE, CorruptItem, decode_value, encode_value, text
from syntha_redis.core.config import Settings
from syntha_redis.core.models import StoredItem
from syntha_redis.core.read_cache import freeze, freeze_mapping, thaw, thaw_mapping
from syntha_redis.exceptions import (
    SynthaConflictError,
    SynthaError,
    SynthaPermissionError,
    SynthaQuotaError,
    SynthaTruncationWarning,
    SynthaValidationError,
)

__all__ = [
    "MeshOperations",
    "Stats",
    "VisibleItems",
    "VisibleKeys",
    "VisibleValues",
    "check_ttl",
    "group_by_topic",
]

CLEAR_CHUNK = 100  # items of one clear.lua call (its cap: see its CHUNK)
MAX_TTL_SECONDS = 100 * 365 * 86400  # keeps absolute expiry (ms) exact in Lua numbers
# push failures for the deployment's size limits (lua/_push_item.lua check_size):
# code -> (what was measured, the setting)
SIZE_LIMITS = {
    "key_too_long": ("the encoded key length", "max_key_length"),
    "value_too_large": ("the encoded value size", "max_value_bytes"),
    "too_many_topics": ("the number of topics", "max_topics_per_item"),
    "too_many_subscribers": ("the number of subscribers", "max_subscribers_per_item"),
}


E = TypeVar("E")
R = TypeVar("R")
log = logging.getLogger("syntha_redis.reads")


class _CutList(list[E]):
    """A list read from an agent's visible items, saying whether the read was cut:
    ``truncated`` when more than ``max_visible_items`` were visible (the list then
    holds the most recent ones), ``total_visible``, how many were, and
    ``skipped``, how many of those were left out because their stored form is
    corrupt (logged; see ``CorruptItem``)."""

    __slots__ = ("skipped", "total_visible")

    def __init__(self, items: Iterable[E] = (), total_visible: int = 0, skipped: int = 0) -> None:
        super().__init__(items)
        self.total_visible = total_visible
        self.skipped = skipped

    @property
    def truncated(self) -> bool:
        return self.total_visible > len(self) + self.skipped


class VisibleItems(_CutList[StoredItem]):
    """``get_visible_items()``'s items, oldest first (see ``_CutList``)."""

    __slots__ = ()


class VisibleKeys(_CutList[str]):
    """``get_keys_for_agent()``'s keys, oldest first (see ``_CutList``)."""

    __slots__ = ()


class VisibleValues(dict[str, Any]):
    """``get_all_for_agent()``'s ``{key: value}`` (a dict, as in Syntha), with
    ``truncated``, ``total_visible`` and ``skipped`` (see ``_CutList``)."""

    __slots__ = ("skipped", "total_visible")

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 total_visible: int = 0, skipped: int = 0) -> None:
        super().__init__(values)
        self.total_visible = total_visible
        self.skipped = skipped

    @property
    def truncated(self) -> bool:
        return self.total_visible > len(self) + self.skipped


def warn_if_cut(agent: str, shown: int, total: int, limit: int) -> None:
    """Mesh reads that the cap cut say so (tool results carry the flag instead)."""
    if total > shown:
        warnings.warn(
            f"agent {agent!r} can see {total} items; this read returned the {shown} most "
            f"recent (max_visible_items={limit}). Check .truncated / .total_visible, or "
            "raise max_visible_items",
            SynthaTruncationWarning,
            stacklevel=2,
        )


@dataclass(frozen=True)
class Stats:
    items: int
    expired: int
    global_items: int
    topics: int
    agents_with_topics: int
    bytes: int
    version: int


def group_by_topic(topics: list[str], items: list[StoredItem]) -> dict[str, list[str]]:
    """``{topic: [keys]}`` for each of ``topics``, plus ``"other"`` for the rest."""
    by_topic: dict[str, list[str]] = {t: [] for t in topics}
    other = []
    for item in items:
        placed = [t for t in item.topics if t in by_topic]
        for topic in placed:
            by_topic[topic].append(item.key)
        if not placed:
            other.append(item.key)
    if other:
        by_topic["other"] = other
    return by_topic


# Frozen forms of cached reads (syntha_redis.core.read_cache): what an entry
# holds, and the caller's own copy made from it on each read.
FrozenItem = tuple[str, Any, int, str | None, float, float | None, tuple[str, ...],
                   tuple[str, ...]]


def freeze_item(item: StoredItem) -> FrozenItem:
    return (item.key, freeze(item.value), item.version, item.author, item.created_at,
            item.expires_at, tuple(item.topics), tuple(item.subscribers))


def thaw_item(f: FrozenItem) -> StoredItem:
    return StoredItem.model_construct(
        key=f[0], value=thaw(f[1]), version=f[2], author=f[3], created_at=f[4],
        expires_at=f[5], topics=list(f[6]), subscribers=list(f[7]),
    )


def earliest(expiries: Iterable[float | None]) -> float | None:
    """The first of these expiries (unix s), None if none of them expires."""
    return min((e for e in expiries if e is not None), default=None)


def _thaw_values(frozen: tuple[Any, int, int]) -> VisibleValues:
    return VisibleValues(thaw_mapping(frozen[0]), frozen[1], frozen[2])


# The users registry lives outside any user's slot, so a script cannot update it.
# A process registers a user on its first write and again every REGISTER_EVERY
# seconds (the SADD is idempotent), so a fresh mesh handle per request costs no
# extra round trip, and a registry lost with Redis's data is rebuilt within that
# period (the snapshotter then captures the user's whole state).
REGISTER_EVERY = 600.0
_registered_at: dict[tuple[str | None, str], float] = {}


def _due_for_registration(redis_url: str | None, root: str) -> bool:
    since = time.monotonic() - _registered_at.get((redis_url, root), -REGISTER_EVERY)
    return since >= REGISTER_EVERY


_refusal_logged_at = -REGISTER_EVERY


def _announce_refused(error: SynthaError) -> None:
    """Say (at most once a minute per process) that announcements are refused."""
    global _refusal_logged_at
    if time.monotonic() - _refusal_logged_at >= 60:
        _refusal_logged_at = time.monotonic()
        log.warning("the users registry refused an announcement (%s); writes go on, and "
                    "the trusted snapshot worker repairs the registry's stream", error.message)


def _registered(redis_url: str | None, root: str) -> None:
    """Stamped once the announcement was acknowledged: a failed one is due again."""
    if len(_registered_at) > 100_000:  # bounded: forgetting only costs a round trip
        _registered_at.clear()
    _registered_at[(redis_url, root)] = time.monotonic()


_TTL_UNITS = {"seconds": 1, "hours": 3600}

# The random bits of operation ids. They must be unique, not secret (a record
# answers only its own user's retries), so a generator seeded from os.urandom
# serves them at a fifth of the cost of a system call per write. A private one:
# an application's random.seed() (or a test framework's) must not make two
# processes or runs issue the same ids, which would replay each other's
# results; and reseeded in a forked child, which would otherwise repeat its
# parent's ids.
_OP_IDS = random.Random()
os.register_at_fork(after_in_child=_OP_IDS.seed)


def check_ttl(ttl: object, field: str, unit: str = "seconds") -> float:
    """The one TTL rule of ``push(ttl=)`` (seconds) and ``push_context(ttl_hours=)``
    (hours): a positive number is the lifetime, 0 means the item never expires
    (as in Syntha's tool and memcached), and a negative number is an error,
    since it is usually a deadline already missed, not a wish to keep forever.
    Returns the lifetime in seconds (0 = never expires)."""
    unit_seconds = _TTL_UNITS[unit]
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
        raise SynthaValidationError(
            f"{field} must be a number of {unit}, got {ttl!r}",
            field=field,
            suggestions=[f"Pass {field} in {unit}, or 0 for an item that never expires"],
        )
    seconds = ttl * unit_seconds
    if not 0 <= seconds <= MAX_TTL_SECONDS:
        raise SynthaValidationError(
            f"{field} must be from 0 (never expires) to {MAX_TTL_SECONDS / unit_seconds:g} "
            f"{unit} (100 years), got {ttl}",
            field=field,
            suggestions=[f"Pass a positive {field}, or 0 for an item that never expires"],
        )
    return float(seconds)


class MeshOperations:
    """The operations of one user's mesh. Holds only names and settings."""

    def __init__(self, settings: Settings, user_id: str) -> None:
        self.settings = settings
        self.user_id = keys.validate_identifier(user_id, "user_id", settings.max_name_length)
        self.keys = keys.UserKeys(settings.key_prefix, self.user_id)
        self.limit_sources: tuple[frozenset[str], frozenset[str]] | None = None
        s = settings
        self._head_tail = (
            s.stream_max_length,
            int(s.stream_max_age_seconds * 1000),
            int(s.stream_idle_seconds * 1000),
            int(s.operation_ttl_seconds * 1000),
        )

    # -- input -----------------------------------------------------------------

    def key_token(self, key: object) -> str:
        if key == "":
            # Syntha accepts the empty key; its token is the empty string, which
            # names its own item hash and is a distinct script argument like any other.
            return ""
        return keys.token(key, "key", self.settings.max_key_length)

    def name_token(self, name: object, field: str) -> str:
        return keys.token(name, field, self.settings.max_name_length)

    def name_csv(self, names: object, field: str, limit: int) -> str:
        """Validated, de-duplicated names (order kept) as the csv of their tokens, the
        form the scripts take; None means none."""
        if names is None:
            return ""
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise SynthaValidationError(
                f"{field} must be a list of strings, got {type(names).__name__}",
                field=field,
                suggestions=[f'Pass {field} as a list, e.g. ["sales"]'],
            )
        singular = field.rstrip("s")
        # tokens first: a name that is not a string (even an unhashable one) is refused
        unique = list(dict.fromkeys(self.name_token(name, singular) for name in names))
        if len(unique) > limit:
            raise SynthaValidationError(
                f"{len(unique)} {field} given; the limit is {limit}",
                field=field,
                suggestions=[f"Use at most {limit} {field}"],
            )
        return ",".join(unique)

    def ttl_ms(self, ttl: object) -> int:
        """Milliseconds to live, 0 for none: see ``check_ttl`` for the rule."""
        if ttl is None:
            ttl = self.settings.default_ttl
        if ttl is None:
            return 0
        seconds = check_ttl(ttl, "ttl")
        return 0 if seconds == 0 else max(1, int(seconds * 1000))

    def _head(self) -> tuple[Any, ...]:
        # The operation's id for retry dedupe: the period of the client's clock (one
        # op result ttl long) and 64 random bits (see _OP_IDS).
        # The scripts keep the records of one period together (lua/_prelude.lua).
        period = int(time.time() / self.settings.operation_ttl_seconds)
        op_id = f"{period}:{_OP_IDS.getrandbits(64):016x}"
        return (op_id, *self._head_tail, self.settings.prune_batch)

    def _script(self, name: str, *args: Any) -> ScriptCall:
        return ScriptCall(name, self.keys.root, args)

    def _mutate(self, name: str, *args: Any) -> Operation[Any]:
        """A mutating script call, after registering the user for the snapshotter
        when this process has not done so lately (see ``_due_for_registration``),
        and, at the first, checking the limits this mesh was given against the
        deployment's (``limits.agreement``; ``limit_sources``, set by the mesh)."""
        if self.limit_sources is not None:
            yield from limits.agreement(self.settings, *self.limit_sources)
            self.limit_sources = None
        if _due_for_registration(self.settings.redis_url, self.keys.root):
            try:
                yield registry.announce(self.settings.key_prefix, self.user_id)
            except SynthaError as e:
                # The joins stream is shared: another tenant can make it refuse an
                # XADD (an entry at the last possible id) until a trusted worker repairs it.
                # That must not fail this user's write: the announcement stays due.
                if not untrusted.user_fault(e):
                    raise
                _announce_refused(e)
            else:
                _registered(self.settings.redis_url, self.keys.root)
        return (yield self._script(name, *self._head(), *args))

    # -- items -------------------------------------------------------------------

    def push(
        self,
        key: str,
        value: Any,
        subscribers: list[str] | None = None,
        topics: list[str] | None = None,
        ttl: float | None = None,
        agent_name: str | None = None,
        expected_version: int | None = None,
    ) -> Operation[int]:
        item = self.item_args(key, value, subscribers, topics, ttl, agent_name, expected_version)
        reply = yield from self._mutate("push", *item)
        if int(reply[0]) == 1:
            return int(reply[1])
        yield from self._raise_push_failure(reply, key, agent_name, expected_version)
        raise AssertionError("unreachable")

    def item_args(
        self,
        key: str,
        value: Any,
        subscribers: list[str] | None = None,
        topics: list[str] | None = None,
        ttl: float | None = None,
        agent_name: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[Any, ...]:
        """One item validated and encoded as the 7 ARGV of lua/_push_item.lua's spec."""
        s = self.settings
        tok = self.key_token(key)
        subs = self.name_csv(subscribers, "subscribers", s.max_subscribers_per_item)
        tops = self.name_csv(topics, "topics", s.max_topics_per_item)
        author = "" if agent_name is None else self.name_token(agent_name, "agent_name")
        if expected_version is not None and (
            isinstance(expected_version, bool)
            or not isinstance(expected_version, int)
            or expected_version < 0
        ):
            raise SynthaValidationError(
                f"expected_version must be a non-negative integer, got {expected_version!r}",
                field="expected_version",
                suggestions=["Pass the version from get_item(), or 0 for 'must not exist'"],
            )
        return (
            tok,
            encode_value(value, s.max_value_bytes, key),
            author,
            tops,
            subs,
            self.ttl_ms(ttl),
            "" if expected_version is None else expected_version,
        )

    def _raise_push_failure(
        self, reply: list[Any], key: str, agent: str | None, expected: int | None
    ) -> Operation[None]:
        code = text(reply[1])
        if code == "conflict":
            current = int(reply[3])
            value = decode_value(reply[4]) if current else None
            raise SynthaConflictError(
                f"{key!r} is at version {current}, not {expected}",
                key=key,
                expected_version=expected,
                current_version=current,
                current_value=value,
                suggestions=[
                    f"Read the current value, merge, and push again with "
                    f"expected_version={current}"
                ],
            )
        if code == "denied":
            topic = keys.decode(text(reply[3]))
            allowed = list(keys.decode_csv(text(reply[4])))
            raise SynthaPermissionError(
                f"agent {agent!r} may not post to topic {topic!r}",
                agent=agent,
                resource=topic,
                context={"allowed_topics": allowed},
                suggestions=[f"Post only to the allowed topics: {', '.join(allowed)}"],
            )
        found, limit = int(reply[3]), int(reply[4])
        if code in SIZE_LIMITS:
            what, setting = SIZE_LIMITS[code]
            raise SynthaValidationError(
                f"{key!r}: {what} is {found}, over this deployment's limit of {limit}",
                field=setting,
                suggestions=[f"Stay within {setting} (the deployment's limits hold for every "
                             "client: `syntha-redis limits show`), or have an admin raise it "
                             "with `syntha-redis limits set`"],
            )
        used = found
        what = "items" if code == "quota_items" else "bytes"
        raise SynthaQuotaError(
            f"storing {key!r} would exceed this user's quota of {limit} {what} "
            f"({used} in use)",
            field="value",
            suggestions=["Remove items that are no longer needed, or give them a TTL"],
        )

    def _item(self, key: str | None, f: list[Any], with_value: bool = True) -> StoredItem:
        """A StoredItem from fields [tok, value, version, author, created, expires, ...];
        fields that do not parse (written by a raw command) raise CorruptItem."""
        try:
            expires = int(f[5])
            author = text(f[3])
            return StoredItem.model_construct(
                key=key if key is not None else keys.decode(f[0]),
                value=decode_value(f[1]) if with_value else None,
                version=int(f[2]),
                author=keys.decode(author) if author else None,
                created_at=int(f[4]) / 1000,
                expires_at=expires / 1000 if expires else None,
                topics=list(keys.decode_csv(f[6] or "")),
                subscribers=list(keys.decode_csv(f[7] or "")),
            )
        except UNREADABLE as e:
            raise CorruptItem(self.user_id, key if key is not None else repr(f[0]), e) from e

    def _readable(self, rows: list[Any], build: Callable[[Any], R]) -> tuple[list[R], int]:
        """``build`` of each row, leaving out (and logging) corrupt ones: one bad item
        never fails a read of many. Returns the results and how many were left out."""
        built, skipped = [], 0
        for row in rows:
            try:
                built.append(build(row))
            except CorruptItem as e:
                log.warning("%s", e.message)
                skipped += 1
            except UNREADABLE as e:
                log.warning("%s", CorruptItem(self.user_id, repr(row[0]), e).message)
                skipped += 1
        return built, skipped

    def get_item(self, key: str, agent_name: str | None = None) -> Operation[StoredItem | None]:
        tok = self.key_token(key)
        if agent_name is None:
            # A system read decides no access, so it needs no script: Redis's own
            # expiry already hides expired items.
            fields = yield CommandCall(
                ("HMGET", self.keys.root + keys.ITEM + tok, *keys.ITEM_HASH_FIELDS),
                self.keys.root)
            return None if fields[0] is None else self._item(key, [tok, *fields])
        agent = self.name_token(agent_name, "agent_name")
        reply = yield self._script("get", tok, agent)
        if int(reply[0]) == 0:
            return None
        return self._item(key, [tok, *reply[1:]])

    def cached(self, what: tuple[Any, ...], read: Operation[tuple[Any, float | None]],
               thaw_result: Callable[[Any], Any]) -> CachedRead:
        """A read of this user the store may answer from its read cache."""
        return CachedRead(self.keys.root, (self.keys.root, *what), read, thaw_result)

    def get_value(self, key: str, agent_name: str | None = None) -> Operation[Any]:
        """Just the value (``get()``): no metadata to fetch or build (with the read
        cache, the whole item, whose expiry bounds the entry)."""
        tok = self.key_token(key)
        if self.settings.read_cache_entries:
            agent = None if agent_name is None else self.name_token(agent_name, "agent_name")
            return (yield self.cached(("get", tok, agent), self._frozen_value(key, agent_name),
                                      thaw))
        if agent_name is not None:
            agent = self.name_token(agent_name, "agent_name")
            data = yield self._script("get", tok, agent, "v")
        else:
            root = self.keys.root
            data = yield CommandCall(("HGET", root + keys.ITEM + tok, "value"), root)
        if data is None:
            return None
        try:
            return decode_value(data)
        except UNREADABLE as e:
            raise CorruptItem(self.user_id, key, e) from e

    def _frozen_value(self, key: str, agent_name: str | None
                      ) -> Operation[tuple[Any, float | None]]:
        item = yield from self.get_item(key, agent_name)
        return (None, None) if item is None else (freeze(item.value), item.expires_at)

    def visible_rows(
        self, agent_name: str, mode: str = "1"
    ) -> Operation[tuple[list[str], list[list[Any]], int]]:
        """(topics the agent follows, raw item rows it can see oldest first, how many
        it can see): the rows are the most recent ``max_visible_items`` of them.

        lua/visible.lua reads in bounded chunks (what a reader sees while items
        change is said there); this keeps the newest rows across chunks, and tells
        each next chunk the oldest row still kept, so that it sends only newer ones.
        ``mode``: '1' rows of every field, '0' without values, 'kv' [tok, value]."""
        agent = self.name_token(agent_name, "agent_name")
        limit = self.settings.max_visible_items
        rows: dict[bytes, list[Any]] = {}
        cursor, floor, total = "", "", 0
        while True:
            reply = yield self._script("visible", agent, cursor, mode, floor)
            cursor, total = text(reply[1]), total + int(reply[2])
            width = 3 if mode == "kv" else 9  # flat rows (lua/visible.lua)
            for at in range(3, len(reply) - width + 1, width):
                rows[reply[at]] = reply[at + 1 : at + width]
            if len(rows) > limit:
                newest = sorted(rows)[-limit:]
                rows = {k: rows[k] for k in newest}
                floor = text(newest[0])
            if not cursor:
                topics = sorted(keys.decode(t) for t in reply[0])
                return topics, [rows[k] for k in sorted(rows)], total

    def _cut(self, agent_name: str, shown: int, total: int, warn: bool) -> None:
        if warn:
            warn_if_cut(agent_name, shown, total, self.settings.max_visible_items)

    def visible_items(
        self, agent_name: str, with_values: bool = True, warn: bool = True
    ) -> Operation[tuple[list[str], VisibleItems]]:
        """(topics the agent follows, items it can see oldest first). With ``warn``, a
        read cut by ``max_visible_items`` warns (SynthaTruncationWarning)."""
        topics, rows, total = yield from self.visible_rows(agent_name,
                                                           "1" if with_values else "0")
        items, skipped = self._readable(rows, lambda row: self._item(None, row, with_values))
        self._cut(agent_name, len(items) + skipped, total, warn)
        return topics, VisibleItems(items, total, skipped)

    def visible_values(self, agent_name: str) -> Operation[VisibleValues]:
        """``{key: value}`` of what the agent can see, oldest first (no metadata objects:
        the script sends only each key and value)."""
        if self.settings.read_cache_entries:
            # every field: the entry lives until the first of the items expires
            agent = self.name_token(agent_name, "agent_name")
            values = yield self.cached(("visible", agent, self.settings.max_visible_items),
                                       self._frozen_values(agent_name), _thaw_values)
            self._cut(agent_name, len(values) + values.skipped, values.total_visible, True)
            return values  # type: ignore[no-any-return]
        _, rows, total = yield from self.visible_rows(agent_name, "kv")
        pairs, skipped = self._readable(
            rows, lambda row: (keys.decode(row[0]), decode_value(row[1])))
        self._cut(agent_name, len(pairs) + skipped, total, True)
        return VisibleValues(pairs, total, skipped)

    def _frozen_values(self, agent_name: str) -> Operation[tuple[Any, float | None]]:
        _, rows, total = yield from self.visible_rows(agent_name)
        found, skipped = self._readable(
            rows, lambda row: (keys.decode(row[0]), decode_value(row[1]), int(row[5])))
        expires = earliest(ms / 1000 if ms else None for _, _, ms in found)
        return (freeze_mapping({k: v for k, v, _ in found}), total, skipped), expires

    def visible_keys(self, agent_name: str) -> Operation[VisibleKeys]:
        _, rows, total = yield from self.visible_rows(agent_name, "0")
        self._cut(agent_name, len(rows), total, True)
        found, skipped = self._readable(rows, lambda row: keys.decode(row[0]))
        return VisibleKeys(found, total, skipped)

    def keys_by_topic(self, agent_name: str) -> Operation[dict[str, list[str]]]:
        """``{topic: [keys]}`` for each followed topic, plus ``"other"`` for the rest."""
        topics, items = yield from self.visible_items(agent_name, with_values=False)
        return group_by_topic(topics, items)

    def remove(self, key: str) -> Operation[bool]:
        reply = yield from self._mutate("remove", self.key_token(key))
        return int(reply[0]) == 1

    def clear(self) -> Operation[int]:
        deleted = 0
        while True:
            reply = yield from self._mutate("clear", CLEAR_CHUNK)
            deleted += int(reply[1])
            if int(reply[0]) == 0:
                return deleted

    def stats(self) -> Operation[Stats]:
        reply = yield self._script("stats", *self._head())
        return Stats(*(int(x) for x in reply))

    def stats_summary(self) -> Operation[dict[str, Any]]:
        """get_stats(): Syntha's keys, plus bytes stored and the user's version."""
        s = yield from self.stats()
        active = s.items - s.expired
        return {
            "total_items": s.items,
            "active_items": active,
            "expired_items": s.expired,
            "global_items": s.global_items,
            "private_items": active - s.global_items,
            "total_topics": s.topics,
            "agents_with_topics": s.agents_with_topics,
            "total_bytes": s.bytes,
            "version": s.version,
        }

    def cleanup_expired(self) -> Operation[int]:
        pruned = 0
        while True:
            reply = yield self._script("cleanup", *self._head())
            pruned += int(reply[0])
            if int(reply[1]) == 0 or int(reply[0]) == 0:
                return pruned

    def sweep(self, owner: str, lease_ms: int) -> Operation[int | None]:
        """Prune expired items if ``owner`` holds (or takes) this user's sweep lease.

        Returns how many were pruned, or None if another sweeper holds the lease.
        """
        pruned = 0
        while True:
            reply = yield self._script("sweep", *self._head(), owner, lease_ms)
            if int(reply[0]) == 0:
                return None
            pruned += int(reply[1])
            if int(reply[2]) == 0 or int(reply[1]) == 0:
                return pruned

    def _members(self, key: str) -> Operation[list[str]]:
        reply = yield CommandCall(("SMEMBERS", key), self.keys.root)
        return sorted(keys.decode(m) for m in reply)
