"""The client-side read cache: repeated reads answered by the process, kept
coherent by Redis (``Settings.read_cache_entries``; off by default).

``get``, ``get_many`` and ``get_all_for_agent`` are cacheable reads
(``calls.CachedRead``): the store answers one from here when it can and
otherwise reads Redis and keeps the result. What keeps it right:

- **Other processes' writes**: ``tracking.Tracker`` holds a connection per
  primary with ``CLIENT TRACKING ... BCAST`` on the mesh's keyspace, so Redis
  tells this process the name of every key any client changes (and every key
  that expires). A changed key drops every entry of its user (``invalidate``).
- **This process's own writes** drop their user's entries as soon as the write
  returns (``forget``), before the server's message comes.
- **A read racing a write**: a result is kept only if no change of its user
  was announced since the read was sent (``ticket``/``put``); otherwise it is
  used once and not kept.
- **Expiry**: an entry lives until the earliest expiry of the items it holds,
  judged by this host's clock (items carry the server's absolute expiry).
- **Bounded size**: at most ``max_entries`` entries, least recently used first out.
- **A lost tracking connection** empties the cache and turns it off (``live``)
  until every connection is back, since changes may have gone unannounced.

Entries are immutable: a value that is a container is kept as its msgpack
bytes and decoded afresh for each caller (``freeze`` / ``thaw``), so a caller
who changes what it got changes nothing here. Strings and numbers are shared.
So a cached read of container values costs their decoding (what an uncached
read pays too, without the round trip and the script).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from syntha_redis.core.codec import decode_value, encode_value

__all__ = ["MISS", "ReadCache", "freeze", "freeze_mapping", "thaw", "thaw_mapping"]

MISS: Any = object()  # what ``get`` returns for no usable entry

# Values a caller cannot change in place: shared between the cache and callers.
_SHARED = (str, bytes, int, float, bool, type(None))


class _Packed:
    """A container value kept as msgpack bytes (see the module docstring)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def freeze(value: Any) -> Any:
    """``value`` as an entry may hold it (containers as their encoding)."""
    if isinstance(value, _SHARED):
        return value
    return _Packed(encode_value(value, sys.maxsize, ""))


def thaw(frozen: Any) -> Any:
    """A caller's own copy of a frozen value."""
    return decode_value(frozen.data) if type(frozen) is _Packed else frozen


def freeze_mapping(values: dict[str, Any]) -> Any:
    """A mapping's frozen form: itself when no value is a container (a caller's
    copy is then a plain dict copy), else its encoding as a whole (one decode
    per read, about half the cost of one per value)."""
    if all(isinstance(v, _SHARED) for v in values.values()):
        return values
    return _Packed(encode_value(values, sys.maxsize, ""))


def thaw_mapping(frozen: Any) -> Mapping[str, Any]:
    """What a caller's own copy of a frozen mapping is made from: a copy of it
    (``dict(...)``) shares nothing a caller could change in place."""
    return decode_value(frozen.data) if type(frozen) is _Packed else frozen  # type: ignore[no-any-return]


class ReadCache:
    """Entries ``key -> (root, frozen result, expires_at)``, LRU-bounded.

    Thread-safe: the store's threads (and event loops) read and fill it while
    the tracker's threads invalidate it.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.live = False  # True while every tracking connection is subscribed
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[str, Any, float]] = OrderedDict()
        self._by_root: dict[str, set[Hashable]] = {}
        # A counter of changes; each user's last change, and the last reset, by it.
        self._clock = 0
        self._changed: dict[str, int] = {}
        self._reset_at = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The frozen result kept for ``key``, or MISS (none, expired, or not live)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not self.live:
                self.misses += 1
                return MISS
            if entry[2] <= time.time():
                self._drop(key, entry[0])
                self.misses += 1
                return MISS
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def ticket(self) -> int:
        """Taken before a read is sent; ``put`` keeps the result only if no change
        of its user was announced after it."""
        return self._clock

    def put(self, ticket: int, root: str, key: Hashable, frozen: Any,
            expires_at: float | None) -> bool:
        """Keep ``frozen`` for ``key`` unless a change of ``root`` (or a reset) came
        after ``ticket``, or the cache is not live. True if kept."""
        with self._lock:
            if (not self.live or ticket < self._reset_at
                    or self._changed.get(root, -1) > ticket):
                return False
            if key in self._entries:
                self._entries.move_to_end(key)
            self._entries[key] = (root, frozen, math.inf if expires_at is None else expires_at)
            self._by_root.setdefault(root, set()).add(key)
            while len(self._entries) > self.max_entries:
                old, (old_root, _, _) = next(iter(self._entries.items()))
                self._drop(old, old_root)
            return True

    def invalidate(self, roots: Iterable[str]) -> None:
        """Changes of these users were announced (or made here): drop their entries."""
        with self._lock:
            self._clock += 1
            for root in roots:
                self._changed[root] = self._clock
                for key in self._by_root.pop(root, ()):
                    del self._entries[key]
            # Only reads in flight need old changes: past a bound, a reset voids them all.
            if len(self._changed) > 4 * self.max_entries + 1000:
                self._changed.clear()
                self._reset_at = self._clock

    forget = invalidate

    def reset(self, live: bool) -> None:
        """Drop every entry and void reads in flight; ``live`` says whether changes
        are announced from now on (False: the cache answers nothing)."""
        with self._lock:
            self._clock += 1
            self._reset_at = self._clock
            self._entries.clear()
            self._by_root.clear()
            self._changed.clear()
            self.live = live

    def _drop(self, key: Hashable, root: str) -> None:
        del self._entries[key]
        keys = self._by_root[root]
        keys.discard(key)
        if not keys:
            del self._by_root[root]
