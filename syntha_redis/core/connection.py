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
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from syntha_redis.core.config import Settings
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
# A client is shared by the meshes whose settings shape it alike: the URL and the
# pool's size, waits and retries (two meshes with other timeouts get two pools).
PoolKey = tuple[str | None, int, float, float, float, int, int]
_clients: dict[tuple[int, PoolKey], SyncClient] = {}
_async_clients: dict[tuple[int, int, PoolKey], Any] = {}
_embedded_server: Any = None
_warned_embedded = False


# Query parameters that carry credentials (redis-py reads ?password=...).
_SECRET_PARAMS = frozenset({"password", "pass", "pwd", "secret", "token", "auth", "ssl_password"})


def describe_url(url: str | None) -> str:
    """The URL with every secret masked (the userinfo password and credential query
    parameters such as ``?password=``), for messages and logs."""
    if url is None:
        return EMBEDDED
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. an unparsable port: show nothing that could be secret
        return "<unparsable Redis URL>"
    if password:
        user, _, host = parts.netloc.rpartition("@")
        name = user.split(":", 1)[0]
        parts = parts._replace(netloc=f"{name}:***@{host}")
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        parts = parts._replace(
            query="&".join(
                f"{k}=***" if k.lower() in _SECRET_PARAMS else f"{k}={v}" for k, v in pairs
            )
        )
    return urlunsplit(parts)


def _secrets(url: str | None) -> list[str]:
    """The secret strings of ``url`` (raw and percent-decoded), longest first."""
    if url is None:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        return [url]
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS]
    found += [unquote(v) for v in found]
    return sorted({v for v in found if v}, key=len, reverse=True)


def mask_secrets(text: str, url: str | None) -> str:
    """``text`` (e.g. a driver's error message) with any secret of ``url`` masked."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


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


def _invalid_url(url: str, error: Exception) -> SynthaConfigurationError:
    return SynthaConfigurationError(
        f"invalid Redis URL {describe_url(url)}: {mask_secrets(str(error), url)}",
        config_key="redis_url",
        suggestions=["Use a URL like redis://[[user]:password@]host[:port][/db] "
                     "(rediss:// for TLS, redis+cluster:// for a cluster, unix:///path)"],
    )


def _scheme(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError as e:
        raise _invalid_url(url, e) from None
    scheme = parts.scheme
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


class ClusterUnavailable(redis.ConnectionError):
    """redis-py's RedisClusterException (not a RedisError) as a RedisError, so that it
    is translated like any other driver error: no usable node, or not a cluster."""


class _Cluster(RedisCluster):
    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisClusterException as e:
            raise ClusterUnavailable(str(e)) from e


class _AsyncCluster(redis.asyncio.RedisCluster):
    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_command(*args, **kwargs)
        except RedisClusterException as e:
            raise ClusterUnavailable(str(e)) from e


def _build(settings: Settings) -> SyncClient:
    url = settings.redis_url
    if url is None:
        import fakeredis

        return fakeredis.FakeRedis(server=_embedded())
    scheme = _scheme(url)
    options = _connection_options(settings)
    if scheme.endswith("+cluster"):
        plain = url.replace("+cluster", "", 1)
        try:  # the sync client reads the slot map from a seed node right here
            return _Cluster.from_url(plain, max_connections=settings.pool_size, **options)
        except (ValueError, TypeError) as e:
            raise _invalid_url(url, e) from None
        except (RedisClusterException, redis.RedisError) as e:
            error = ClusterUnavailable(str(e)) if isinstance(e, RedisClusterException) else e
            raise translate_error(error, settings, "connect") from None
    try:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=settings.pool_size, timeout=settings.pool_timeout, **options
        )
    except (ValueError, TypeError) as e:  # e.g. ?db=abc, ?socket_timeout=soon
        raise _invalid_url(url, e) from None
    return redis.Redis(connection_pool=pool)


def pool_key(settings: Settings) -> PoolKey:
    """What makes two settings share a client: the URL and every pool option."""
    return (settings.redis_url, settings.pool_size, settings.pool_timeout,
            settings.socket_timeout, settings.connect_timeout, settings.retries,
            settings.health_check_interval)


def get_client(settings: Settings) -> SyncClient:
    """The process's shared sync client for ``settings.redis_url`` and its pool options."""
    key = (os.getpid(), pool_key(settings))
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _build(settings)
    return client


def get_async_client(settings: Settings, loop_id: int) -> Any:
    """The shared asyncio client for ``settings.redis_url`` and its pool options on
    one event loop."""
    key = (os.getpid(), loop_id, pool_key(settings))
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
        try:
            client = _async_client(url, scheme, settings, options)
        except (ValueError, TypeError) as e:
            raise _invalid_url(url, e) from None
    _async_clients[key] = client
    return client


def _async_client(url: str, scheme: str, settings: Settings, options: dict[str, Any]) -> Any:
    if scheme.endswith("+cluster"):
        options.pop("health_check_interval")
        return _AsyncCluster.from_url(
            url.replace("+cluster", "", 1), max_connections=settings.pool_size, **options
        )
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=settings.pool_size, timeout=settings.pool_timeout, **options
    )
    return redis.asyncio.Redis(connection_pool=pool)


def release_async_clients(loop_id: int) -> list[Any]:
    """Forget (and return, to be closed) the async clients of a finished loop."""
    gone = [k for k in _async_clients if k[1] == loop_id]
    return [_async_clients.pop(k) for k in gone]


def translate_error(error: Exception, settings: Settings, operation: str) -> SynthaError:
    """A redis-py error as the matching SynthaError, with a suggestion that fits its
    cause. No secret of the URL appears in the message, whatever the driver said."""
    where = describe_url(settings.redis_url)
    said = mask_secrets(str(error), settings.redis_url)
    # the cause is shown by str(SynthaError) and to_dict(): masked as well
    cause: Exception = error if said == str(error) else redis.RedisError(said)
    for kind, translate in _TRANSLATIONS:
        if isinstance(error, kind):
            return translate(cause, said, where, settings, operation)
    return SynthaPersistenceError(
        f"Redis refused {operation}: {said}",
        backend="redis",
        operation=operation,
        cause=cause,
        suggestions=[f"Check the Redis server at {where} (version 7+, its logs)"],
    )


def _timeout(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    if (settings.redis_url or "").startswith("rediss"):
        # a plain server reads the TLS hello as a partial command and waits for
        # the rest: the handshake times out, which says nothing about TLS
        return SynthaTimeoutError(
            f"{operation} timed out talking to Redis at {where}: the URL asks for TLS "
            "(rediss://), and a server that does not speak TLS never answers the handshake",
            timeout=settings.socket_timeout,
            operation=operation,
            cause=error,
            suggestions=[
                "Use redis:// if the server does not speak TLS (e.g. no tls-port "
                "configured), or the server's TLS port",
                f"Else check that Redis at {where} is up and not overloaded",
            ],
        )
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


def _authentication(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    return SynthaConnectionError(
        f"Redis at {where} refused the credentials: {said}",
        service="redis",
        cause=error,
        suggestions=[
            "Check the user name and password in the URL "
            "(redis://USER:PASSWORD@host:port/db) against the server's requirepass or ACL "
            "user; the server is up, only the credentials were refused",
            "Set SYNTHA_REDIS_URL (or redis_url=) with the right credentials",
        ],
    )


def _cluster_unavailable(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    if "cluster mode is not enabled" in said.lower():
        return SynthaConfigurationError(
            f"Redis at {where} is not a cluster node: {said}",
            config_key="redis_url",
            cause=error,
            suggestions=[
                "Use redis:// (not redis+cluster://) for a standalone Redis, or point "
                "redis+cluster:// at a node of a Redis Cluster",
            ],
        )
    return SynthaConnectionError(
        f"cannot reach Redis Cluster at {where}: {said}",
        service="redis",
        cause=error,
        suggestions=[
            f"Check that the cluster node in the URL ({where}) is up; any reachable "
            "node of the cluster will do as the seed",
            "Set SYNTHA_REDIS_URL (or redis_url=) to a live cluster node",
        ],
    )


def _cluster_down(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    return SynthaConnectionError(
        f"Redis Cluster at {where} cannot serve {operation} now: {said}",
        service="redis",
        cause=error,
        suggestions=[
            "Retry in a few seconds: a cluster is down while a failover elects a new "
            "primary (about cluster-node-timeout) or while slots move",
            "If it persists, check CLUSTER INFO on the nodes: a primary without a "
            "replica that went down leaves its slots unserved",
        ],
    )


def _unreachable(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    return SynthaConnectionError(
        f"cannot reach Redis at {where}: {said}",
        service="redis",
        cause=error,
        suggestions=[
            f"Check that a Redis server is running at {where}",
            "Set SYNTHA_REDIS_URL (or redis_url=) to the right server, or leave it "
            "unset to use the in-process default",
        ],
    )


def _no_permission(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    # a tenant ACL (syntha_redis.ops.acl) refused a key, channel or command
    return SynthaPermissionError(
        f"Redis ACL refused {operation} at {where}: {said}",
        resource=operation,
        cause=error,
        suggestions=[
            "Use the Redis user of this mesh's user_id and key_prefix (a tenant may "
            "touch only its own keys)",
            "Re-apply the tenant's rules with `syntha-redis acl apply` after upgrading",
        ],
    )


def _out_of_memory(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    return SynthaPersistenceError(
        f"Redis at {where} is out of memory (used memory > maxmemory) and refused "
        f"{operation}; nothing was written",
        backend="redis",
        operation=operation,
        cause=error,
        suggestions=[
            "Raise the server's maxmemory (CONFIG SET maxmemory / redis.conf), or free "
            "memory: remove items or give them a TTL",
            "Check maxmemory-policy: with noeviction (the default) a full Redis refuses "
            "writes; volatile-lru / volatile-ttl evict only items with a TTL, while "
            "allkeys-* policies may evict context items and indexes alike",
        ],
    )


def _read_only(
    error: Exception, said: str, where: str, settings: Settings, operation: str
) -> SynthaError:
    return SynthaConnectionError(
        f"Redis at {where} is a read-only replica and refused {operation}: {said}",
        service="redis",
        cause=error,
        suggestions=[
            "Point redis_url at the primary; after a failover, retry once the client "
            "has reconnected to the new primary",
        ],
    )


_Translate = Callable[[Exception, str, str, Settings, str], SynthaError]

# Most specific first: AuthenticationError and ClusterUnavailable are ConnectionErrors,
# ClusterDownError a ResponseError.
_TRANSLATIONS: tuple[tuple[type[BaseException], _Translate], ...] = (
    (redis.TimeoutError, _timeout),
    (redis.AuthenticationError, _authentication),
    (redis.exceptions.AuthenticationWrongNumberOfArgsError, _authentication),
    (ClusterUnavailable, _cluster_unavailable),
    (RedisClusterException, _cluster_unavailable),
    (redis.exceptions.ClusterDownError, _cluster_down),
    (redis.exceptions.TryAgainError, _cluster_down),
    (redis.ConnectionError, _unreachable),
    (OSError, _unreachable),
    (redis.exceptions.NoPermissionError, _no_permission),
    (redis.exceptions.OutOfMemoryError, _out_of_memory),
    (redis.exceptions.ReadOnlyError, _read_only),
)
