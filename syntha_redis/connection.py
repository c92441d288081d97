"""From a URL to a shared Redis client, and from driver errors to SynthaErrors.

One client (and so one connection pool) per URL per process: a
``ContextMesh`` is a cheap handle, and a thousand meshes of a thousand users
share the same pool. With no URL the mesh runs on fakeredis (with lupa for
Lua) inside the process, on one in-process server shared by every mesh.

Retries: redis-py re-sends a command after a connection error. Mutating
scripts carry an operation id and apply at most once (see ``lua/_prelude.lua``),
so a retried write whose reply was lost is not applied twice.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from syntha_redis.config import Settings
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaConnectionError,
    SynthaError,
    SynthaPermissionError,
    SynthaPersistenceError,
    SynthaTimeoutError,
)

__all__ = ["get_client", "get_async_client", "describe_url", "translate_error", "EMBEDDED"]

log = logging.getLogger("syntha_redis.connection")

EMBEDDED = "embedded (in-process fakeredis)"
SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")

SyncClient = redis.Redis | RedisCluster

_lock = threading.Lock()
_clients: dict[tuple[int, str | None], SyncClient] = {}
_async_clients: dict[tuple[int, int, str | None], Any] = {}
_embedded_server: Any = None
_warned_embedded = False


def describe_url(url: str | None) -> str:
    """The URL with any password masked, for messages and logs."""
    if url is None:
        return EMBEDDED
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _retry(settings: Settings) -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.5), retries=settings.retries)


def _connection_options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "retry": _retry(settings),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
        "health_check_interval": settings.health_check_interval,
    }


def _scheme(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise SynthaConfigurationError(
            f"unsupported Redis URL scheme {scheme!r} in {describe_url(url)}",
            config_key="redis_url",
            suggestions=[f"Use one of: {', '.join(s + '://' for s in SCHEMES)}"],
        )
    return scheme


def _embedded() -> Any:
    global _embedded_server, _warned_embedded
    import fakeredis

    if _embedded_server is None:
        _embedded_server = fakeredis.FakeServer()
    if not _warned_embedded:
        _warned_embedded = True
        log.warning(
            "syntha_redis is running on an in-process fakeredis: the mesh is local to this "
            "process. Set SYNTHA_REDIS_URL (or redis_url=) to share it across workers."
        )
    return _embedded_server


def _build(settings: Settings) -> SyncClient:
    url = settings.redis_url
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis(server=_embedded())
    scheme = _scheme(url)
    options = _connection_options(settings)
    if scheme.endswith("+cluster"):
        plain = url.replace("+cluster", "", 1)
        return RedisCluster.from_url(plain, max_connections=settings.pool_size, **options)
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=settings.pool_size, timeout=settings.pool_timeout, **options
    )
    return redis.Redis(connection_pool=pool)


def get_client(settings: Settings) -> SyncClient:
    """The process's shared sync client for ``settings.redis_url``."""
    key = (os.getpid(), settings.redis_url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _build(settings)
    return client


def get_async_client(settings: Settings, loop_id: int) -> Any:
    """The shared asyncio client for ``settings.redis_url`` on one event loop."""
    key = (os.getpid(), loop_id, settings.redis_url)
    client = _async_clients.get(key)
    if client is not None:
        return client
    url = settings.redis_url
    if url is None:
        import fakeredis

        client = fakeredis.FakeAsyncRedis(server=_embedded())
    else:
        scheme = _scheme(url)
        options = _connection_options(settings)
        options["retry"] = redis.asyncio.retry.Retry(
            ExponentialWithJitterBackoff(base=0.01, cap=0.5), retries=settings.retries
        )
        if scheme.endswith("+cluster"):
            options.pop("health_check_interval")
            client = redis.asyncio.RedisCluster.from_url(
                url.replace("+cluster", "", 1), max_connections=settings.pool_size, **options
            )
        else:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url, max_connections=settings.pool_size, timeout=settings.pool_timeout, **options
            )
            client = redis.asyncio.Redis(connection_pool=pool)
    _async_clients[key] = client
    return client


def release_async_clients(loop_id: int) -> list[Any]:
    """Forget (and return, to be closed) the async clients of a finished loop."""
    gone = [k for k in _async_clients if k[1] == loop_id]
    return [_async_clients.pop(k) for k in gone]


def translate_error(error: Exception, settings: Settings, operation: str) -> SynthaError:
    """A redis-py error as the matching SynthaError, with a suggestion."""
    where = describe_url(settings.redis_url)
    if isinstance(error, redis.TimeoutError):
        return SynthaTimeoutError(
            f"{operation} timed out talking to Redis at {where}",
            timeout=settings.socket_timeout,
            operation=operation,
            cause=error,
            suggestions=[
                f"Check that Redis at {where} is up and not overloaded",
                "Raise socket_timeout if the operation is legitimately slow",
            ],
        )
    if isinstance(error, redis.ConnectionError | redis.AuthenticationError | OSError):
        return SynthaConnectionError(
            f"cannot reach Redis at {where}: {error}",
            service="redis",
            cause=error,
            suggestions=[
                f"Check that a Redis server is running at {where}",
                "Set SYNTHA_REDIS_URL (or redis_url=) to the right server, or leave it "
                "unset to use the in-process default",
            ],
        )
    if isinstance(error, redis.exceptions.NoPermissionError):
        # a tenant ACL (syntha_redis.acl) refused a key, channel or command
        return SynthaPermissionError(
            f"Redis ACL refused {operation} at {where}: {error}",
            resource=operation,
            cause=error,
            suggestions=[
                "Use the Redis user of this mesh's user_id and key_prefix (a tenant may "
                "touch only its own keys)",
                "Re-apply the tenant's rules with `syntha-redis acl apply` after upgrading",
            ],
        )
    return SynthaPersistenceError(
        f"Redis refused {operation}: {error}",
        backend="redis",
        operation=operation,
        cause=error,
        suggestions=[f"Check the Redis server at {where} (version 7+, enough memory)"],
    )
