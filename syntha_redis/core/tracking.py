"""What keeps the read cache coherent: Redis tells this process which keys change.

One connection per primary (per node that owns slots, on a Cluster), each
served by a daemon thread, with server-assisted client-side caching in
broadcasting mode (https://redis.io/docs/latest/develop/reference/client-side-caching/):

    CLIENT TRACKING ON REDIRECT <its own id> BCAST PREFIX <prefix>:{u:
    SUBSCRIBE __redis__:invalidate

Every change of a key under the users' keyspace (a write by any client, an
expiry, an eviction, a FLUSHDB) then arrives as a message naming the keys;
their users' entries are dropped (``ReadCache.invalidate``). Broadcasting
needs no per-key bookkeeping on the server, works for keys read inside Lua
scripts, and announces changes of users this process never read (ignored
at the cost of parsing their names). The connection speaks RESP2 and
redirects to itself: the invalidations come as pub/sub messages, so plain
redis-py connections read them, with no parser hooks.

The cache is live only while every connection is subscribed: a connection
that fails (a closed socket at once; a silent one when a PING goes
unanswered for ``socket_timeout``) empties it and turns it off until the
connection is back. A server without CLIENT TRACKING (fakeredis) or a user
the ACL refuses it turns the cache off for good, with one log line.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import redis
import redis.asyncio
from redis.cluster import RedisCluster

from syntha_redis.core import keys
from syntha_redis.core.calls import CachedRead, Call, ScriptCall
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import describe_url, get_client
from syntha_redis.core.read_cache import MISS, ReadCache

__all__ = ["Tracker", "attach", "detach_all", "node_of", "CHANNEL", "CLIENT_NAME", "MISS"]

log = logging.getLogger("syntha_redis.read_cache")

CHANNEL = "__redis__:invalidate"
CLIENT_NAME = "syntha-read-cache"  # in CLIENT LIST, for operators (and fault tests)
HEARTBEAT = 1.0  # seconds of silence before a PING checks the connection
MAX_BACKOFF = 2.0
# Scripts that never write: every other script call may change its user's keys.
READ_SCRIPTS = frozenset({"get", "get_many", "visible", "discover", "snapshot_read"})

_lock = threading.Lock()
_trackers: dict[tuple[int, str | None, str, int], Tracker | None] = {}


class Unsupported(Exception):
    """The server (or the ACL) refuses CLIENT TRACKING: no cache at all."""


def attach(settings: Settings) -> Tracker | None:
    """The process's tracker (and cache) for ``settings``, started on first use;
    None when the cache is off or the server cannot support it."""
    if not settings.read_cache_entries:
        return None
    key = (os.getpid(), settings.redis_url, settings.key_prefix, settings.read_cache_entries)
    with _lock:
        if key not in _trackers:
            tracker = Tracker(settings)
            try:
                tracker.start()
            except Unsupported as e:
                log.warning("read cache off for %s: the server refuses CLIENT TRACKING (%s); "
                            "every read goes to Redis", describe_url(settings.redis_url), e)
                _trackers[key] = None
            else:
                _trackers[key] = tracker
        return _trackers[key]


def detach_all() -> None:
    """Close every tracker of this process (tests; a process normally keeps them)."""
    with _lock:
        for tracker in _trackers.values():
            if tracker is not None:
                tracker.close()
        _trackers.clear()


def node_of(client: Any, root: str) -> str | None:
    """The Cluster node ``client`` sends ``root``'s keys to (None: not a Cluster)."""
    if isinstance(client, RedisCluster | redis.asyncio.RedisCluster):
        node = client.get_node_from_key(root)
        return None if node is None else str(node.name)
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Tracker:
    """The tracking connections of one cache, one thread per node."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = ReadCache(settings.read_cache_entries)
        self._prefix = keys.users_prefix(settings.key_prefix)
        client = get_client(settings)
        # node name -> how to connect; standalone Redis is the one node ""
        self._nodes: dict[str, tuple[type, dict[str, Any]]] = {}
        if isinstance(client, RedisCluster):
            for node in client.get_primaries():  # type: ignore[no-untyped-call]
                pool = node.redis_connection.connection_pool
                self._nodes[node.name] = (pool.connection_class, dict(pool.connection_kwargs))
        else:
            pool = client.connection_pool
            self._nodes[""] = (pool.connection_class, dict(pool.connection_kwargs))
        self._template = next(iter(self._nodes.values()))
        self._up: set[str] = set()
        self._state = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Connect to every node (each connection then served by its thread); raises
        Unsupported if the server refuses tracking. A node that cannot be reached
        now is retried by its thread."""
        conns: dict[str, Any] = {}
        for node in self._nodes:
            try:
                conns[node] = self._connect(node)
            except redis.ResponseError as e:
                for conn in conns.values():
                    conn.disconnect()
                raise Unsupported(str(e)) from None
            except (redis.RedisError, OSError):
                conns[node] = None
        for node, conn in conns.items():
            if conn is not None:  # live at once: the mesh's first reads can be kept
                self._mark(node, up=True)
            self._spawn(node, conn)

    def close(self) -> None:
        """Stop tracking (within a HEARTBEAT); the cache answers nothing after."""
        self._closed = True
        self.cache.reset(live=False)

    def lookup(self, read: CachedRead) -> Any:
        """The frozen result kept for ``read``, or MISS."""
        return self.cache.get(read.key)

    def keep(self, ticket: int, read: CachedRead, frozen: Any, expires_at: float | None,
             node: str | None) -> None:
        """Keep what ``read`` read from ``node`` (see ``ReadCache.put``)."""
        if self.covers(node):
            self.cache.put(ticket, read.root, read.key, frozen, expires_at)

    def wrote(self, call: Call) -> None:
        """``call`` of this process returned or failed: if it may have changed its
        user's keys, that user's entries go now, before Redis announces it."""
        if isinstance(call, ScriptCall) and call.name not in READ_SCRIPTS:
            self.cache.forget((call.root,))

    def covers(self, node: str | None) -> bool:
        """Whether changes on ``node`` (a Cluster node name, None for standalone Redis)
        are announced. A node not yet tracked (slots moved to a new primary) gets a
        connection, and the cache stays off until it is subscribed."""
        if node is None or node in self._nodes:
            return True
        with self._state:
            if node in self._nodes:
                return True
            cls, kwargs = self._template
            host, _, port = node.rpartition(":")
            self._nodes[node] = (cls, dict(kwargs, host=host, port=int(port)))
            self.cache.reset(live=False)
        self._spawn(node, None)
        return False

    def _spawn(self, node: str, conn: Any) -> None:
        threading.Thread(target=self._serve, args=(node, conn), daemon=True,
                         name=f"syntha-read-cache {node}").start()

    def _connect(self, node: str) -> Any:
        cls, kwargs = self._nodes[node]
        conn = cls(**dict(kwargs, protocol=2, client_name=CLIENT_NAME))
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            own_id = conn.read_response()
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", own_id,
                              "BCAST", "PREFIX", self._prefix)
            conn.read_response()
            conn.send_command("SUBSCRIBE", CHANNEL)
            conn.read_response()
        except BaseException:
            conn.disconnect()
            raise
        return conn

    def _serve(self, node: str, conn: Any) -> None:
        failures = 0
        while not self._closed:
            if conn is None:
                try:
                    conn = self._connect(node)
                except (redis.RedisError, OSError) as e:
                    failures += 1
                    if failures == 1:
                        log.warning("read cache: cannot track %s (%s); reads go to Redis "
                                    "until it is back", node or "Redis", e)
                    time.sleep(min(MAX_BACKOFF, 0.05 * 2 ** min(failures, 6)))
                    continue
                failures = 0
                self._mark(node, up=True)
            try:
                self._listen(conn)
            except (redis.RedisError, OSError) as e:
                if self._closed:
                    return
                log.warning("read cache: tracking connection to %s lost (%s); cache emptied "
                            "until it is back", node or "Redis", e)
            finally:
                conn.disconnect()
                conn = None
                self._mark(node, up=False)

    def _mark(self, node: str, up: bool) -> None:
        with self._state:
            if self._closed:
                return
            if up:
                self._up.add(node)
            else:
                self._up.discard(node)
            # every change until now may have gone unannounced: start empty
            self.cache.reset(live=self._up == set(self._nodes))

    def _listen(self, conn: Any) -> None:
        """Apply invalidations until the connection fails; PING it after each
        HEARTBEAT of silence, and give it up when the PING is not answered."""
        timeout = self.settings.socket_timeout
        pinged: float | None = None
        while not self._closed:
            if conn.can_read(timeout=HEARTBEAT):
                message = conn.read_response()
                kind = _text(message[0])
                if kind == "message":
                    self._invalidated(message[2])
                elif kind == "pong":
                    pinged = None
            elif pinged is None:
                conn.send_command("PING")
                pinged = time.monotonic()
            if pinged is not None and time.monotonic() - pinged > timeout:
                raise redis.TimeoutError(f"no reply to PING in {timeout} s")

    def _invalidated(self, names: list[Any] | None) -> None:
        if names is None:  # FLUSHDB / FLUSHALL: every key changed
            self.cache.reset(live=self.cache.live)
            return
        roots = {keys.root_of(_text(name)) for name in names}
        roots.discard(None)
        self.cache.invalidate(roots)  # type: ignore[arg-type]
