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

A thread waits on each connection and applies what arrives; a cached read
also applies, before it answers, whatever already waits on the sockets
(``Tracker._catch_up``), so a process that keeps the GIL busy still sees a
change at its next read.

The cache is live only while every connection is subscribed: a connection
that fails (a closed socket at once; a silent one when a PING goes
unanswered for ``socket_timeout``) empties it and turns it off until the
connection is back. A server without CLIENT TRACKING (fakeredis) or a user
the ACL refuses it turns the cache off for good, with one log line.
"""

from __future__ import annotations

import logging
import os
import select
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
READ_SCRIPTS = frozenset({"get", "get_many", "visible", "discover", "watch", "snapshot_read"})

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


class _Link:
    """A subscribed tracking connection. Its lock is held only while reading or
    writing it, never while waiting for it: a thread waits on the socket's
    descriptor, and a cached read checks it without waiting (``_catch_up``)."""

    __slots__ = ("conn", "fd", "lock", "pinged", "broken")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # redis-py has no public accessor for the socket of a connection
        self.fd: int = conn._sock.fileno()
        self.lock = threading.Lock()
        self.pinged: float | None = None  # when a PING went unanswered so far
        self.broken = False


class Tracker:
    """The tracking connections of one cache, one thread per node."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid = os.getpid()
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
        self._links: dict[str, _Link] = {}
        self._by_fd: dict[int, _Link] = {}
        self._fds: list[int] = []
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
            # attached and marked here, so that the mesh's first reads can be kept
            self._spawn(node, None if conn is None else self._up_on(node, conn))

    def close(self) -> None:
        """Stop tracking (within a HEARTBEAT); the cache answers nothing after."""
        self._closed = True
        self.cache.reset(live=False)

    def lookup(self, read: CachedRead) -> Any:
        """The frozen result kept for ``read``, or MISS."""
        if os.getpid() != self._pid:  # a forked child: no thread keeps this cache right
            return MISS
        self._catch_up()
        return self.cache.get(read.key)

    def keep(self, ticket: int, read: CachedRead, frozen: Any, expires_at: float | None,
             node: str | None) -> None:
        """Keep what ``read`` read from ``node`` (see ``ReadCache.put``)."""
        if os.getpid() == self._pid and self.covers(node):
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

    def _spawn(self, node: str, link: _Link | None) -> None:
        threading.Thread(target=self._serve, args=(node, link), daemon=True,
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

    def _up_on(self, node: str, conn: Any) -> _Link:
        link = _Link(conn)
        self._attach(node, link)
        self._mark(node, up=True)
        return link

    def _serve(self, node: str, link: _Link | None) -> None:
        failures = 0
        while not self._closed:
            if link is None:
                try:
                    link = self._up_on(node, self._connect(node))
                except (redis.RedisError, OSError) as e:
                    failures += 1
                    if failures == 1:
                        log.warning("read cache: cannot track %s (%s); reads go to Redis "
                                    "until it is back", node or "Redis", e)
                    time.sleep(min(MAX_BACKOFF, 0.05 * 2 ** min(failures, 6)))
                    continue
                failures = 0
            try:
                self._listen(link)
            except (redis.RedisError, OSError, ValueError) as e:
                if self._closed:
                    return
                log.warning("read cache: tracking connection to %s lost (%s); cache emptied "
                            "until it is back", node or "Redis", e)
            finally:
                self._attach(node, None)
                with link.lock:
                    link.conn.disconnect()
                link = None
                self._mark(node, up=False)

    def _attach(self, node: str, link: _Link | None) -> None:
        """Make ``link`` the one the reads check for ``node`` (None: no longer)."""
        with self._state:
            if link is None:
                self._links.pop(node, None)
            else:
                self._links[node] = link
            self._by_fd = {link.fd: link for link in self._links.values()}
            self._fds = list(self._by_fd)

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

    def _listen(self, link: _Link) -> None:
        """Apply invalidations until the connection fails; PING it after each
        HEARTBEAT of silence, and give it up when the PING is not answered. The
        wait holds neither the link's lock nor the GIL."""
        timeout = self.settings.socket_timeout
        while not self._closed:
            readable = select.select([link.fd], [], [], HEARTBEAT)[0]
            with link.lock:
                if link.broken:
                    raise redis.ConnectionError("a read found the connection broken")
                if readable:
                    self._drain(link)
                elif link.pinged is None:
                    link.conn.send_command("PING")
                    link.pinged = time.monotonic()
            if link.pinged is not None and time.monotonic() - link.pinged > timeout:
                raise redis.TimeoutError(f"no reply to PING in {timeout} s")

    def _catch_up(self) -> None:
        """Apply the invalidations that reached this host but that no thread has
        read yet: a read that begins after one arrived sees its write, however
        long a busy process keeps the GIL from the tracking threads."""
        fds = self._fds
        if not fds:
            return
        try:
            ready = select.select(fds, [], [], 0)[0]
            for fd in ready:
                link = self._by_fd.get(fd)
                if link is not None:
                    with link.lock:
                        self._drain(link)
        except (redis.RedisError, OSError, ValueError):
            # the link's thread sees it broken and reconnects; nothing is served meanwhile
            self.cache.reset(live=False)

    def _drain(self, link: _Link) -> None:
        """Apply every message the connection holds (called with its lock)."""
        if link.broken:
            return
        try:
            while link.conn.can_read(timeout=0):
                message = link.conn.read_response()
                kind = _text(message[0])
                if kind == "message":
                    self._invalidated(message[2])
                elif kind == "pong":
                    link.pinged = None
        except BaseException:
            # redis-py may have closed it: never touch it again (a closed
            # connection would silently reconnect, without tracking)
            link.broken = True
            raise

    def _invalidated(self, names: list[Any] | None) -> None:
        if names is None:  # FLUSHDB / FLUSHALL: every key changed
            self.cache.reset(live=self.cache.live)
            return
        roots = {keys.root_of(_text(name)) for name in names}
        roots.discard(None)
        self.cache.invalidate(roots)  # type: ignore[arg-type]
