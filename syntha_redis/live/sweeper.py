"""The expiry sweeper: one daemon thread per process serving every mesh with
``auto_cleanup=True``.

Redis expires item hashes by itself, but only a script run prunes their index
entries and records their ``expired`` events (keyspace notifications are
lossy and off by default). Scripts prune as they go; the sweeper makes sure
an idle user's expiries still become events within ``cleanup_interval``.

Each pass over a user runs ``lua/sweep.lua``, which holds a per-user lease
(``<root>sweep``, set to this process's owner id with a TTL): across all
processes at most one sweeper acts for a user, and when that process dies its
lease lapses and another takes over. Meshes are held weakly, so a mesh that is
dropped stops being swept without being closed.

Users whose processes have all gone are swept too: every ``cleanup_interval``
one process of the deployment (one Redis, one key prefix) takes the fleet
sweep lease and sweeps every user of the registry (unless
``sweep_registered_users`` is off, as it must be for tenant credentials). So while any worker runs,
an expired item leaves the indexes (and becomes an event) within two
intervals, whoever pushed it.

The thread outlives anything a pass meets: a user whose keys Redis refuses
(a tenant can replace its own keys with other types) is counted and skipped,
and an unexpected error ends the pass, never the thread.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref

from syntha_redis.core import keys, registry, untrusted
from syntha_redis.core.calls import CommandCall
from syntha_redis.core.config import Settings
from syntha_redis.core.operations import MeshOperations
from syntha_redis.core.store import Store
from syntha_redis.exceptions import (
    SynthaError,
    SynthaPermissionError,
)

__all__ = ["Sweeper", "register", "unregister"]

log = logging.getLogger("syntha_redis.sweeper")

# The holder renews its lease on every pass; twice the interval lets one late
# pass keep it, and bounds a dead holder's hold to two intervals.
LEASE_INTERVALS = 2

UserKey = tuple[str | None, str, str]  # redis_url, key_prefix, user_id
Deployment = tuple[str | None, str]  # redis_url, key_prefix


class Sweeper:
    """Sweeps the users of the registered meshes, each every ``cleanup_interval``."""

    def __init__(self) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.pid = os.getpid()
        self._meshes: weakref.WeakKeyDictionary[object, MeshOperations] = (
            weakref.WeakKeyDictionary()
        )
        self._due: dict[UserKey, float] = {}
        self._walk_due: dict[Deployment, float] = {}
        self._fleet_refused: set[Deployment] = set()  # ACL: this process may not
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, mesh: object, ops: MeshOperations) -> None:
        """Sweep the user of ``mesh`` (whose operations are ``ops``) while it lives."""
        s = ops.settings
        with self._lock:
            self._meshes[mesh] = ops
            # the first pass comes one interval after the user's first mesh: the
            # scripts themselves prune as they run, and a mesh costs no round trip
            first = time.monotonic() + s.cleanup_interval
            self._due.setdefault((s.redis_url, s.key_prefix, ops.user_id), first)
            self._walk_due.setdefault((s.redis_url, s.key_prefix), first)
        self._changed.set()

    def remove(self, mesh: object) -> None:
        with self._lock:
            self._meshes.pop(mesh, None)

    def start(self) -> None:
        """Run passes in a daemon thread from now on (idempotent)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="syntha-redis-sweeper", daemon=True
                )
                self._thread.start()

    def _users(self) -> dict[UserKey, MeshOperations]:
        with self._lock:
            all_ops = list(self._meshes.values())
        users: dict[UserKey, MeshOperations] = {}
        for ops in all_ops:
            s = ops.settings
            users.setdefault((s.redis_url, s.key_prefix, ops.user_id), ops)
        return users

    def run_once(self, now: float | None = None) -> dict[UserKey, int | None]:
        """Sweep every user whose pass is due; returns how many items each pass
        pruned (None = another sweeper holds that user's lease)."""
        now = time.monotonic() if now is None else now
        users = self._users()
        with self._lock:
            self._due = {k: v for k, v in self._due.items() if k in users}
        done: dict[UserKey, int | None] = {}
        for key, ops in users.items():
            if self._due.get(key, now) > now:
                continue
            self._due[key] = now + ops.settings.cleanup_interval
            try:
                done[key] = self.sweep(ops)
            except SynthaError as e:
                log.warning("expiry sweep of user %r failed: %s", key[2], e)
        deployments = {(k[0], k[1]): ops.settings for k, ops in users.items()
                       if ops.settings.sweep_registered_users
                       and (k[0], k[1]) not in self._fleet_refused}
        with self._lock:
            self._walk_due = {k: v for k, v in self._walk_due.items() if k in deployments}
        for deployment, settings in deployments.items():
            if self._walk_due.get(deployment, now) > now:
                continue
            self._walk_due[deployment] = now + settings.cleanup_interval
            try:
                done |= self.sweep_registered(settings)
            except SynthaPermissionError as e:
                # tenant credentials: the fleet sweep can never work, so say what
                # turns it off, once, and stop trying (their own users still sweep)
                self._fleet_refused.add(deployment)
                log.error("the fleet expiry sweep of %s stops: this process's Redis user "
                          "may not sweep every user (%s). Set SYNTHA_SWEEP_REGISTERED_USERS=0 "
                          "(sweep_registered_users=False) for processes with tenant "
                          "credentials; a trusted process sweeps the fleet",
                          deployment[1], e.message)
            except SynthaError as e:
                log.warning("fleet expiry sweep of %s failed: %s", deployment[1], e)
        return done

    def sweep_registered(self, settings: Settings) -> dict[UserKey, int | None]:
        """Sweep every user of the registry, if no other process of the deployment
        did so this interval (the fleet sweep lease); ``run_once``'s result shape."""
        store = Store(settings)
        lease = ("SET", keys.fleet_sweep_lease(settings.key_prefix), self.owner, "NX", "PX",
                 max(1, int(settings.cleanup_interval * 1000)))
        if not store.execute(CommandCall(lease)):
            return {}
        done: dict[UserKey, int | None] = {}
        for user in registry.users(store):
            try:
                ops = MeshOperations(settings, user)
                done[(settings.redis_url, settings.key_prefix, user)] = self.sweep(ops)
            except SynthaError as e:
                if not untrusted.user_fault(e):
                    raise  # Redis is away: the next pass tries every user again
                untrusted.set_aside("sweeper", user,
                                    keys.UserKeys(settings.key_prefix, user).root,
                                    untrusted.Malformed("refused_by_redis", e.message))
        return done

    def sweep(self, ops: MeshOperations) -> int | None:
        """One pass over ``ops``'s user now: items pruned, or None if another
        sweeper holds the user's lease."""
        lease_ms = int(ops.settings.cleanup_interval * LEASE_INTERVALS * 1000)
        return Store(ops.settings).run(ops.sweep(self.owner, lease_ms))

    def next_due(self) -> float | None:
        """Seconds until the earliest pass is due (None = nothing to sweep)."""
        with self._lock:
            due = [*self._due.values(), *self._walk_due.values()]
        return None if not due else max(0.0, min(due) - time.monotonic())

    def _loop(self) -> None:
        while True:
            self._changed.wait(self.next_due())
            self._changed.clear()
            try:
                self.run_once()
            except Exception:  # a bug met by some data must not stop every sweep
                log.exception("expiry sweep pass failed; the next one runs as due")


_sweeper: Sweeper | None = None
_sweeper_lock = threading.Lock()


def _current() -> Sweeper:
    global _sweeper
    with _sweeper_lock:
        # a forked child inherits the object but not its thread: start afresh
        if _sweeper is None or _sweeper.pid != os.getpid():
            _sweeper = Sweeper()
        return _sweeper


def register(mesh: object, ops: MeshOperations) -> None:
    """Sweep ``mesh``'s user every ``cleanup_interval`` in this process's thread."""
    sweeper = _current()
    sweeper.add(mesh, ops)
    sweeper.start()


def unregister(mesh: object) -> None:
    _current().remove(mesh)
