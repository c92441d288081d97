"""``mesh.health()``: can this mesh's Redis serve it, and how well.

One operation (``probe``) asks Redis everything in a few round trips; sync and
async meshes, the HTTP ``/ready`` probe and ``syntha-redis health`` all run it,
and ``assess`` turns its answers into a ``HealthReport``:

- **unhealthy**: Redis cannot be reached (or refuses to load the scripts,
  for ``/ready``). The report carries the error and what to do; no exception.
- **degraded**: Redis answers, but the round trip is slower than
  ``health_max_latency_ms``, memory is above ``health_max_memory_ratio`` of
  ``maxmemory``, or the snapshot is more than
  ``health_max_snapshot_lag_seconds`` behind (or its lag cannot be read), has
  a gap (entries gone before it read them: a full capture is due), or its
  capture cannot run (a permission denied, the database away: the reason is
  in ``problems``).
- **healthy** otherwise.

Scripts missing from the server's cache are reported, not held against the
mesh: after a restart or failover they are loaded again on first use.
Facts Redis refuses to give (``INFO`` denied by an ACL, or absent from the
embedded fakeredis) are reported as unknown. On Redis Cluster, ``INFO`` is
the answer of one node.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from syntha_redis.core import keys, limits
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import describe_url
from syntha_redis.core.scripts import SCRIPTS, LuaScript
from syntha_redis.core.store import (
    AsyncStore,
    CommandCall,
    Operation,
    Store,
    scripts_not_loaded,
)
from syntha_redis.exceptions import SynthaError, SynthaPermissionError, SynthaPersistenceError

__all__ = ["HealthReport", "HealthStatus", "SnapshotSource", "check_health",
           "check_health_async", "probe"]

HealthStatus = Literal["healthy", "degraded", "unhealthy"]

# What Redis answers when it refuses a command (an error reply, an ACL denial):
# the server is up, it just will not tell.
REFUSED = (SynthaPersistenceError, SynthaPermissionError)


class HealthReport(BaseModel):
    """What ``health()`` found. ``None`` means unknown (not measured or refused)."""

    model_config = ConfigDict(frozen=True)

    status: HealthStatus
    redis: str  # the URL, password masked
    reachable: bool
    latency_ms: float | None = None  # one PING round trip
    server_version: str | None = None
    scripts_loaded: bool | None = None  # every script is in the server's cache
    used_memory: int | None = None  # bytes
    maxmemory: int | None = None  # bytes; 0 = no limit
    stream_length: int | None = None  # events in the user's change stream
    snapshot_lag_seconds: float | None = None  # with a snapshot only
    snapshot_lag_entries: int | None = None  # changes not captured yet
    snapshot_gaps: tuple[str, ...] = ()  # users whose unread changes are gone
    limits: dict[str, int] | None = None  # the deployment's (syntha_redis.core.limits)
    problems: tuple[str, ...] = ()  # degraded: why
    error: str | None = None  # unhealthy: what failed
    suggestions: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"


@dataclass(frozen=True)
class Probe:
    """What Redis answered."""

    latency_ms: float
    server_version: str | None
    scripts_loaded: bool | None
    used_memory: int | None
    maxmemory: int | None
    stream_length: int | None
    limits: dict[str, int] | None = None


class SnapshotLag(Protocol):
    @property
    def entries(self) -> int: ...

    @property
    def seconds(self) -> float: ...

    @property
    def gaps(self) -> tuple[str, ...]: ...


class SnapshotSource(Protocol):
    """What health asks of a snapshot: a mesh's ``db_backend`` or a ``Snapshotter``."""

    @property
    def problem(self) -> str | None: ...

    def lag(self) -> SnapshotLag: ...


@dataclass(frozen=True)
class SnapshotState:
    lag: SnapshotLag | SynthaError
    problem: str | None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def probe(settings: Settings, stream: str | None, load_scripts: bool) -> Operation[Probe]:
    """Round trip, server facts, script cache and (with ``stream``) its length.

    With ``load_scripts`` the missing scripts are loaded, so a refusal (e.g. an
    ACL without SCRIPT) fails the probe: that is what ``/ready`` must know.
    """
    start = time.perf_counter()
    yield CommandCall(("PING",))
    latency_ms = (time.perf_counter() - start) * 1000
    info: dict[str, Any] = {}
    if settings.redis_url is None:
        import fakeredis

        info["redis_version"] = f"fakeredis {fakeredis.__version__} (embedded)"
    else:
        try:
            info = yield CommandCall(("INFO", "server", "memory"))
        except REFUSED:
            pass  # INFO refused: the facts it gives stay unknown
    scripts = list(SCRIPTS.values())
    missing: list[LuaScript] | None
    try:
        cached = yield CommandCall(("SCRIPT", "EXISTS", *(s.sha for s in scripts)))
        # a Cluster client may merge the nodes' answers into another shape: unknown
        missing = ([s for s, there in zip(scripts, cached, strict=True) if not there]
                   if isinstance(cached, list) and len(cached) == len(scripts) else None)
    except REFUSED:
        missing = None  # SCRIPT EXISTS refused: unknown
    if load_scripts:
        try:
            for script in scripts if missing is None else missing:
                yield CommandCall(("SCRIPT", "LOAD", script.source))
        except SynthaPermissionError as e:
            # a tenant may not load them: the fix is an admin's load, not its ACL
            raise scripts_not_loaded(settings, e) from e
        missing = []
    length = None if stream is None else int((yield CommandCall(("XLEN", stream))))
    try:
        held = yield CommandCall(("HGETALL", keys.deployment_limits(settings.key_prefix)))
        found_limits = limits.parse(held) or None
    except REFUSED:
        found_limits = None  # a tenant may not read them: unknown
    return Probe(
        latency_ms=latency_ms,
        server_version=info.get("redis_version"),
        scripts_loaded=None if missing is None else not missing,
        used_memory=_int(info.get("used_memory")),
        maxmemory=_int(info.get("maxmemory")),
        stream_length=length,
        limits=found_limits,
    )


def unreachable(settings: Settings, error: SynthaError) -> HealthReport:
    return HealthReport(
        status="unhealthy",
        redis=describe_url(settings.redis_url),
        reachable=isinstance(error, REFUSED),
        error=error.message,
        suggestions=tuple(error.suggestions),
    )


def assess(settings: Settings, found: Probe, snapshot: SnapshotState | None) -> HealthReport:
    """The report of a successful probe: healthy, or degraded with the reasons."""
    problems: list[str] = []
    suggestions: list[str] = []
    if found.latency_ms > settings.health_max_latency_ms:
        problems.append(f"Redis round trip took {found.latency_ms:.1f} ms "
                        f"(limit {settings.health_max_latency_ms:g} ms)")
        suggestions.append("Check the network to Redis and the server's load (SLOWLOG)")
    if found.maxmemory and found.used_memory is not None:
        ratio = found.used_memory / found.maxmemory
        if ratio > settings.health_max_memory_ratio:
            problems.append(f"Redis memory is {ratio:.0%} of maxmemory")
            suggestions.append("Raise maxmemory, give items a TTL, or set per-user quotas "
                               "(max_items_per_user, max_bytes_per_user)")
    lag = None if snapshot is None else snapshot.lag
    if snapshot is not None and snapshot.problem:
        problems.append(snapshot.problem)
        suggestions.append("Check the snapshot database and the Redis permissions of the "
                           "capture (a tenant's credentials cannot capture: run "
                           "`syntha-redis snapshot run` with admin credentials)")
    if isinstance(lag, SynthaError):
        problems.append(f"snapshot lag unknown: {lag.message}")
        suggestions.extend(lag.suggestions)
    elif lag is not None and lag.gaps:
        problems.append(f"the snapshot missed changes of {len(lag.gaps)} user(s) before "
                        "reading them; a full capture is due")
        suggestions.append("Check that a snapshotter runs (`syntha-redis snapshot run`)")
    elif lag is not None and lag.seconds > settings.health_max_snapshot_lag_seconds:
        problems.append(f"the snapshot is {lag.seconds:.1f}s behind "
                        f"(limit {settings.health_max_snapshot_lag_seconds:g}s)")
        suggestions.append("Check that the snapshot database is reachable and that a "
                           "snapshotter runs (`syntha-redis snapshot run`)")
    known = None if lag is None or isinstance(lag, SynthaError) else lag
    return HealthReport(
        status="degraded" if problems else "healthy",
        redis=describe_url(settings.redis_url),
        reachable=True,
        latency_ms=round(found.latency_ms, 3),
        server_version=found.server_version,
        scripts_loaded=found.scripts_loaded,
        used_memory=found.used_memory,
        maxmemory=found.maxmemory,
        stream_length=found.stream_length,
        snapshot_lag_seconds=None if known is None else known.seconds,
        snapshot_lag_entries=None if known is None else known.entries,
        snapshot_gaps=() if known is None else tuple(known.gaps),
        limits=found.limits,
        problems=tuple(problems),
        suggestions=tuple(suggestions),
    )


def snapshot_state(source: SnapshotSource | None) -> SnapshotState | None:
    """The snapshot's lag (or why it cannot be read) and why its capture stalls."""
    if source is None:
        return None
    try:
        lag: SnapshotLag | SynthaError = source.lag()
    except SynthaError as e:
        lag = e
    return SnapshotState(lag, source.problem)


def check_health(
    store: Store,
    stream: str | None = None,
    backend: SnapshotSource | None = None,
    load_scripts: bool = False,
) -> HealthReport:
    """Probe ``store``'s Redis; never raises for an unreachable server."""
    try:
        found = store.run(probe(store.settings, stream, load_scripts))
    except SynthaError as e:
        return unreachable(store.settings, e)
    return assess(store.settings, found, snapshot_state(backend))


async def check_health_async(
    store: AsyncStore,
    stream: str | None = None,
    backend: SnapshotSource | None = None,
    load_scripts: bool = False,
) -> HealthReport:
    """``check_health`` on an asyncio store."""
    try:
        found = await store.run(probe(store.settings, stream, load_scripts))
    except SynthaError as e:
        return unreachable(store.settings, e)
    # the snapshot backend is synchronous: keep its Redis reads off the loop
    return assess(store.settings, found, await asyncio.to_thread(snapshot_state, backend))
