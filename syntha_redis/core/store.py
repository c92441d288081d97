"""The only path to Redis: runs the calls that ``operations`` describes.

An operation is a generator that yields calls and receives their replies, so
the same logic drives the sync client (``Store``) and the asyncio client
(``AsyncStore``); only the I/O differs. Driver errors leave here as
SynthaErrors, thrown into the operation at the ``yield`` of the failed call:
an operation that can do without a reply (``health.probe``) catches it there,
any other lets it propagate. ``run`` is also where every operation is timed
for Prometheus (``syntha_redis.core.metrics``), when metrics are on. With
``read_cache_entries``, the store answers an operation's ``CachedRead`` from
the process's read cache when it can (``syntha_redis.core.read_cache``; its
tracking connections only listen) and drops a user's entries after each of
that user's writes.

A store of a mesh with a snapshot carries a ``SnapshotLink``: its script
calls name the user's epoch marker as KEYS[2] (``lua/_prelude.lua`` refuses
to act on a keyspace without one), its reads of the user's keys check the
marker in the same round trip, and a lost keyspace is restored once through
the link before the call is sent again; with sync durability, the link also
commits the rows of each write before the call returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import redis
from redis.exceptions import ClusterDownError, MasterDownError, NoScriptError, ReadOnlyError

from syntha_redis.core import limits, tracking
from syntha_redis.core.calls import CachedRead, Call, CommandCall, Operation, ScriptCall
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import (
    describe_url,
    get_async_client,
    get_client,
    translate_error,
)
from syntha_redis.core.metrics import recorder
from syntha_redis.core.scripts import SCRIPTS
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaError,
    SynthaPermissionError,
    SynthaPersistenceError,
    SynthaValidationError,
)

# the call types live in syntha_redis.core.calls (a leaf): import them from there
__all__ = [
    "SnapshotLink",
    "RestoreNeeded",
    "Store",
    "AsyncStore",
    "scripts_not_loaded",
]

T = TypeVar("T")

# Scripts that must run on a lost keyspace: restore puts the snapshot back,
# snapshot_read serves the snapshotter, which never acts for a mesh.
UNGUARDED = frozenset({"restore", "snapshot_read"})
RESTORE_NEEDED = "SYNTHA_RESTORE_NEEDED"
LIMITS_NEEDED = limits.LIMITS_NEEDED
# A call may meet a lost keyspace, then a user without limits: each is fixed once.
ATTEMPTS = 3


class SnapshotLink(Protocol):
    """What a store of a mesh with a snapshot needs from it (``persistence``)."""

    root: str  # the user whose calls it guards
    epoch_key: str  # that user's epoch marker
    suspect: bool  # Redis failed under this user's calls: it may have failed over

    def recover(self) -> object:
        """Restore the user's keyspace from the snapshot (once across workers)."""

    def repair(self) -> object:
        """After a suspected failover: put back what the snapshot has and Redis lost."""

    def after(self, call: ScriptCall, reply: Any) -> Callable[[], None] | None:
        """The blocking snapshot work a script call's reply needs before the call
        returns (sync durability), if any; the store runs it (off the event loop)."""


class RestoreNeeded(SynthaPersistenceError):
    """The user's keyspace lost its data (no epoch marker) and awaits a restore."""

    def __init__(self, root: str) -> None:
        super().__init__(
            f"the keyspace {root!r} lost its data and has not been restored yet",
            backend="redis",
            operation="restore",
            suggestions=["Open the mesh with its snapshot database (db_backend=...) so it "
                         "restores itself, or run `syntha-redis snapshot restore`"],
        )


def _script_keys(call: ScriptCall, snapshot: SnapshotLink | None) -> tuple[str, ...]:
    if snapshot is not None and call.root == snapshot.root and call.name not in UNGUARDED:
        return (call.root, snapshot.epoch_key)
    return (call.root,)


def _is_restore_needed(error: redis.RedisError) -> bool:
    return isinstance(error, redis.ResponseError) and str(error).startswith(RESTORE_NEEDED)


class LimitsNeeded(SynthaConfigurationError):
    """The user has no copy of the deployment's limits yet (``syntha_redis.core.limits``)."""

    def __init__(self, root: str) -> None:
        super().__init__(
            f"the keyspace {root!r} has no copy of the deployment's limits",
            config_key="limits",
            suggestions=["Run `syntha-redis limits sync` with admin credentials"],
        )
        self.root = root


def _is_limits_needed(error: redis.RedisError) -> bool:
    return isinstance(error, redis.ResponseError) and str(error).startswith(LIMITS_NEEDED)


REFUSED = "SYNTHA_REFUSED"


def _refused(said: str, operation: str) -> SynthaValidationError:
    """A script's refusal of an argument (lua/_prelude.lua refused()): what this
    client never sends, so it came from a raw call or a client of another version."""
    what, found, allowed = (said.split()[1:4] + ["?", "?", "?"])[:3]
    return SynthaValidationError(
        f"{operation}: this deployment refuses the argument {what} ({found}; allowed: "
        f"{allowed})",
        field=what,
        suggestions=["Call through this version of syntha_redis, within the deployment's "
                     "limits (`syntha-redis limits show`)"],
    )


def scripts_not_loaded(settings: Settings, error: Exception) -> SynthaPermissionError:
    """Tenant credentials run only scripts an admin or a trusted worker loaded."""
    return SynthaPermissionError(
        f"the mesh's scripts are not loaded on {describe_url(settings.redis_url)}, and "
        "these credentials may not load them (tenant ACL)",
        resource="SCRIPT LOAD",
        cause=error,
        suggestions=["Retry in a few seconds: a running `syntha-redis snapshot run` "
                     "reloads them after a restart or failover",
                     "Or run `syntha-redis scripts load` with admin credentials"],
    )


# Errors of a server that went away or changed role: a failover may follow, and
# a promoted replica may lack the last writes its master acknowledged.
_FAILOVER_SIGNS = (redis.ConnectionError, redis.TimeoutError, ClusterDownError,
                   MasterDownError, ReadOnlyError)


def _failed(error: redis.RedisError, call: Call, settings: Settings,
            snapshot: SnapshotLink | None) -> SynthaError:
    """What a failed call raises: a lost keyspace or a user without limits (which
    the store then repairs), else the translated driver error. A sign of a
    failover makes the user suspect (``SnapshotLink.repair``)."""
    if _is_restore_needed(error):
        return RestoreNeeded(call.root or "")
    if _is_limits_needed(error):
        return LimitsNeeded(call.root or "")
    if isinstance(error, redis.ResponseError) and str(error).startswith(REFUSED):
        return _refused(str(error), call.name)
    if snapshot is not None and isinstance(error, _FAILOVER_SIGNS):
        snapshot.suspect = True
    return translate_error(error, settings, call.name)


class Store:
    """Runs operations on the process's shared sync client."""

    def __init__(self, settings: Settings, snapshot: SnapshotLink | None = None) -> None:
        self.settings = settings
        self.client = get_client(settings)
        self.metrics = recorder(settings)
        self.snapshot = snapshot
        self.tracker = tracking.attach(settings)

    def run(self, operation: Operation[T]) -> T:
        if self.metrics is None:
            return self._drive(operation)
        with self.metrics.measure(operation):
            return self._drive(operation)

    def _drive(self, operation: Operation[T]) -> T:
        try:
            step = next(operation)
            while True:
                try:
                    if isinstance(step, CachedRead):
                        reply = self._cached(step)
                    else:
                        reply = self.execute(step)
                except SynthaError as e:
                    step = operation.throw(e)
                else:
                    step = operation.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _cached(self, read: CachedRead) -> Any:
        """The read cache's copy of ``read``, else Redis's (kept for next time)."""
        if self.tracker is None:
            return read.thaw(self._drive(read.read)[0])
        frozen = self.tracker.lookup(read)
        if frozen is tracking.MISS:
            ticket = self.tracker.cache.ticket()
            frozen, expires_at = self._drive(read.read)
            self.tracker.keep(ticket, read, frozen, expires_at,
                              tracking.node_of(self.client, read.root))
        return read.thaw(frozen)

    def execute(self, call: Call) -> Any:
        if self.snapshot is not None and self.snapshot.suspect:
            self.snapshot.repair()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                reply = self._send(call)
                break
            except RestoreNeeded:
                if self.snapshot is None or attempt == ATTEMPTS:
                    raise
                self.snapshot.recover()
            except LimitsNeeded as needed:
                if attempt == ATTEMPTS:
                    raise
                self.run(limits.provision(self.settings, needed.root))
        if self.snapshot is not None and isinstance(call, ScriptCall):
            work = self.snapshot.after(call, reply)
            if work is not None:
                work()
        return reply

    def _send(self, call: Call) -> Any:
        try:
            if isinstance(call, CommandCall):
                if self.snapshot is not None and call.root == self.snapshot.root:
                    return self._guarded_read(call, self.snapshot)
                return self.client.execute_command(*call.args)  # type: ignore[no-untyped-call]
            script = SCRIPTS[call.name]
            names = _script_keys(call, self.snapshot)
            try:
                return self.client.evalsha(script.sha, len(names), *names, *call.args)
            except NoScriptError:
                # the script cache is volatile (restart, failover, SCRIPT FLUSH)
                self._load(script.source)
                return self.client.evalsha(script.sha, len(names), *names, *call.args)
        except redis.RedisError as e:
            raise _failed(e, call, self.settings, self.snapshot) from e
        finally:
            if self.tracker is not None:
                self.tracker.wrote(call)

    def execute_atomic(self, calls: list[CommandCall]) -> list[Any]:
        """Plain commands as one MULTI/EXEC transaction, in one round trip (all
        their keys in one slot on a Cluster); their replies, in order. Not guarded."""
        pipe = self.client.pipeline(transaction=True)
        for call in calls:
            pipe.execute_command(*call.args)
        try:
            return list(pipe.execute())
        except redis.RedisError as e:
            raise translate_error(e, self.settings, calls[0].name) from e

    def execute_scripts(self, calls: list[ScriptCall], raise_on_error: bool = True) -> list[Any]:
        """EVALSHA of every call in one round trip (a pipeline; one call at a time
        on a Cluster, where redis-py refuses scripts in pipelines); the scripts
        the server lost are loaded once and the calls sent again. A failed call
        raises its SynthaError, or with ``raise_on_error=False`` takes its reply's
        place (one user's bad key must not fail the others' calls). For bulk
        readers (the snapshotter); not guarded."""
        if isinstance(self.client, redis.RedisCluster):
            return [self._send_or_error(call, raise_on_error) for call in calls]
        replies: list[Any] = []
        for _ in range(2):
            pipe = self.client.pipeline(transaction=False)
            for call in calls:
                script = SCRIPTS[call.name]
                pipe.evalsha(script.sha, 1, call.root, *call.args)
            try:
                replies = pipe.execute(raise_on_error=False)
            except redis.RedisError as e:
                raise translate_error(e, self.settings, calls[0].name) from e
            lost = {call.name for call, reply in zip(calls, replies, strict=True)
                    if isinstance(reply, NoScriptError)}
            if not lost:
                break
            for name in sorted(lost):
                self._load(SCRIPTS[name].source)
        answered = [translate_error(reply, self.settings, call.name) if isinstance(
            reply, Exception) else reply for call, reply in zip(calls, replies, strict=True)]
        errors = [e for e in answered if isinstance(e, SynthaError)]
        if errors and raise_on_error:
            raise errors[0]
        return answered

    def _send_or_error(self, call: ScriptCall, raise_on_error: bool) -> Any:
        try:
            return self._send(call)
        except SynthaError as e:
            if raise_on_error:
                raise
            return e

    def _load(self, source: str) -> None:
        try:
            self.client.script_load(source)
        except redis.exceptions.NoPermissionError as e:
            raise scripts_not_loaded(self.settings, e) from e
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "SCRIPT LOAD") from e

    def _guarded_read(self, call: CommandCall, snapshot: SnapshotLink) -> Any:
        """The read, then the epoch marker, in one round trip: a read that met a
        lost keyspace also meets the missing marker."""
        pipe = self.client.pipeline(transaction=False)
        pipe.execute_command(*call.args)
        pipe.exists(snapshot.epoch_key)
        reply, marked = pipe.execute()
        if not marked:
            raise RestoreNeeded(snapshot.root)
        return reply

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "ping") from e


class AsyncStore:
    """Runs operations on the asyncio client of the running event loop."""

    def __init__(
        self, settings: Settings, loop_id: int, snapshot: SnapshotLink | None = None
    ) -> None:
        self.settings = settings
        self.client = get_async_client(settings, loop_id)
        self.metrics = recorder(settings)
        self.snapshot = snapshot
        self._ahead: set[asyncio.Task[Any]] = set()
        # the tracker's threads serve sync and async stores alike
        self.tracker = tracking.attach(settings)

    async def run(self, operation: Operation[T]) -> T:
        if self._ahead:  # started first (``start``): they reach Redis before this call
            await asyncio.wait(list(self._ahead))
        return await self._run(operation)

    def start(self, operation: Operation[T]) -> asyncio.Task[T]:
        """Run ``operation`` as a task of the running loop, ahead of every call this
        store is asked to run after it: a caller that must not block the loop (an
        ``AsyncWatch`` reading where the stream ends) still acts at this moment for
        this store's later calls. The caller awaits the task for its result."""
        task = asyncio.get_running_loop().create_task(self._run(operation))
        self._ahead.add(task)
        task.add_done_callback(self._ahead.discard)
        # a caller that never awaits it (a watch dropped unread) logs no
        # "exception was never retrieved": its error is the caller's to see
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        return task

    async def _run(self, operation: Operation[T]) -> T:
        if self.metrics is None:
            return await self._drive(operation)
        with self.metrics.measure(operation):
            return await self._drive(operation)

    async def _drive(self, operation: Operation[T]) -> T:
        try:
            step = next(operation)
            while True:
                try:
                    if isinstance(step, CachedRead):
                        reply = await self._cached(step)
                    else:
                        reply = await self.execute(step)
                except SynthaError as e:
                    step = operation.throw(e)
                else:
                    step = operation.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _cached(self, read: CachedRead) -> Any:
        """See ``Store._cached``."""
        if self.tracker is None:
            return read.thaw((await self._drive(read.read))[0])
        frozen = self.tracker.lookup(read)
        if frozen is tracking.MISS:
            ticket = self.tracker.cache.ticket()
            frozen, expires_at = await self._drive(read.read)
            self.tracker.keep(ticket, read, frozen, expires_at,
                              tracking.node_of(self.client, read.root))
        return read.thaw(frozen)

    async def execute(self, call: Call) -> Any:
        if self.snapshot is not None and self.snapshot.suspect:
            await asyncio.to_thread(self.snapshot.repair)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                reply = await self._send(call)
                break
            except RestoreNeeded:
                if self.snapshot is None or attempt == ATTEMPTS:
                    raise
                # the restore reads the snapshot database with blocking calls
                await asyncio.to_thread(self.snapshot.recover)
            except LimitsNeeded as needed:
                if attempt == ATTEMPTS:
                    raise
                await self.run(limits.provision(self.settings, needed.root))
        if self.snapshot is not None and isinstance(call, ScriptCall):
            work = self.snapshot.after(call, reply)
            if work is not None:
                await asyncio.to_thread(work)
        return reply

    async def _send(self, call: Call) -> Any:
        try:
            if isinstance(call, CommandCall):
                if self.snapshot is not None and call.root == self.snapshot.root:
                    return await self._guarded_read(call, self.snapshot)
                return await self.client.execute_command(*call.args)
            script = SCRIPTS[call.name]
            names = _script_keys(call, self.snapshot)
            try:
                return await self.client.evalsha(script.sha, len(names), *names, *call.args)
            except NoScriptError:
                await self._load(script.source)
                return await self.client.evalsha(script.sha, len(names), *names, *call.args)
        except redis.RedisError as e:
            raise _failed(e, call, self.settings, self.snapshot) from e
        finally:
            if self.tracker is not None:
                self.tracker.wrote(call)

    async def _load(self, source: str) -> None:
        try:
            await self.client.script_load(source)
        except redis.exceptions.NoPermissionError as e:
            raise scripts_not_loaded(self.settings, e) from e
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "SCRIPT LOAD") from e

    async def _guarded_read(self, call: CommandCall, snapshot: SnapshotLink) -> Any:
        pipe = self.client.pipeline(transaction=False)
        pipe.execute_command(*call.args)
        pipe.exists(snapshot.epoch_key)
        reply, marked = await pipe.execute()
        if not marked:
            raise RestoreNeeded(snapshot.root)
        return reply

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "ping") from e
