"""Durability for a mesh: ``ContextMesh(db_backend="postgresql" | "sqlite", ...)``.

Redis holds the live mesh; the backend keeps a snapshot of it (see
``syntha_redis.snapshot``). Attaching a backend:

- opens the snapshot database (one pool per database per process, shared by
  every mesh) and applies its migrations;
- guards the mesh's calls: a keyspace that lost its data (no epoch marker)
  is restored from the snapshot, once across all workers, before any call
  acts on it (``syntha_redis.snapshot.guard``);
- makes the process's background snapshotter capture this user's stream.
  With ``durability="async"`` (default) that is all: ``lag_seconds()`` says
  how far the snapshot is behind. With ``durability="sync"`` every write
  (push, remove, subscriptions, permissions, clear, topic deletion, from the
  mesh or from tool calls) commits its rows before returning
  (``snapshot.write_through``), so an acknowledged write survives a Redis crash.

A fleet runs ``syntha-redis snapshot run`` instead or as well: every
snapshotter is a consumer of the same group, so they share the work.

One system of record per user: the first snapshot database a user's mesh
attaches (or restores from) is recorded in Redis (``<root>snapshot-db``); a
mesh naming another database for that user fails with a
``SynthaConfigurationError`` (``snapshot.restore.claim_user``).

Durability tells the truth: a capture that cannot run (a permission denied,
the database away) shows in ``health()`` with its reason; in async mode a
mesh starts with the database down (writes flow, health is degraded, the
snapshot catches up later); in sync mode it fails at start within
``db_connect_timeout`` seconds, and a write whose rows cannot be committed
raises instead of returning.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

from syntha_redis.core import keys
from syntha_redis.core.calls import CommandCall, ScriptCall
from syntha_redis.core.codec import decode_value
from syntha_redis.core.config import Settings
from syntha_redis.core.store import Store
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaError,
    SynthaPersistenceError,
)
from syntha_redis.snapshot import (
    PoolSizes,
    PostgresDB,
    SnapshotDB,
    Snapshotter,
    SqliteDB,
)
from syntha_redis.snapshot.capture import Lag
from syntha_redis.snapshot.db import require_postgres_extra
from syntha_redis.snapshot.guard import KeyspaceGuard
from syntha_redis.snapshot.restore import claim_user
from syntha_redis.snapshot.rows import FLOOR_TTL_MS, NO_FLOOR
from syntha_redis.snapshot.write_through import NEEDS_CAPTURE, rows_of

__all__ = [
    "attach_backend",
    "create_database_backend",
    "DatabaseBackend",
    "SQLiteBackend",
    "PostgreSQLBackend",
    "SnapshotBackend",
    "DURABILITY",
    "require_postgres_extra",
]

log = logging.getLogger("syntha_redis.persistence")

# Syntha's names for its backend classes, so that code importing them keeps
# importing (Syntha exports the first two from the package root). They are our
# snapshot databases, which create_database_backend returns; Syntha's row-level
# methods (save_context_item, ...) are not there, since the mesh owns the rows.
DatabaseBackend = SnapshotDB
SQLiteBackend = SqliteDB
PostgreSQLBackend = PostgresDB

DURABILITY = ("async", "sync")
BACKENDS = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}
DEFAULT_DB_PATH = "syntha_context.db"

_lock = threading.Lock()
_databases: dict[tuple[str, str], tuple[SnapshotDB, int]] = {}  # -> (db, handles)
_workers: dict[tuple[str | None, str, str], _Worker] = {}


# Where a mesh finds its database when the code names none (as the seed's
# microservices do): the first of these environment variables that is set.
DATABASE_URL_VARIABLES = ("SYNTHA_DB_URL", "DATABASE_URL")


def _conninfo(database: dict[str, Any]) -> str:
    require_postgres_extra()
    if database.get("connection_string"):
        return str(database["connection_string"])
    name = database.get("database") or database.get("db_name")
    user = database.get("user") or database.get("username")
    if not (database.get("host") and name and user):
        for variable in DATABASE_URL_VARIABLES:
            if os.environ.get(variable):
                return os.environ[variable]
        raise SynthaConfigurationError(
            "db_backend='postgresql' needs connection_string, or host, database and user",
            config_key="connection_string",
            suggestions=[
                'Pass connection_string="postgresql://user:pass@host:5432/db", '
                f"or set {' or '.join(DATABASE_URL_VARIABLES)}"
            ],
        )
    from psycopg.conninfo import make_conninfo

    parts = {"host": database["host"], "port": database.get("port", 5432), "dbname": name,
             "user": user, "password": database.get("password"),
             "sslmode": database.get("sslmode")}
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


def _pool_sizes(settings: Settings, database: dict[str, Any]) -> PoolSizes:
    overflow = int(database.get("max_overflow", 0))
    # ContextMesh folds max_overflow into settings.pool_size (the Redis pool's
    # ceiling); the Postgres pool keeps pool_size open and grows by max_overflow.
    base = settings.pool_size - overflow if "pool_size" in settings.model_fields_set else 2
    return PoolSizes(max(1, base), overflow, settings.pool_timeout,
                     float(database.get("pool_recycle", 3600)))


DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds a mesh waits for its snapshot database at start


def create_database_backend(backend_type: str, **database: Any) -> SnapshotDB:
    """A migrated snapshot database, as Syntha's factory of the same name.

    ``db_connect_timeout`` (seconds) bounds the wait for Postgres; with
    ``wait=False`` a database that cannot be reached yet is returned anyway,
    and migrated on its first use (async durability starts without it).
    """
    wait = bool(database.pop("wait", True))
    kind = BACKENDS.get(backend_type)
    if kind is None:
        raise SynthaConfigurationError(
            f"unknown db_backend {backend_type!r}",
            config_key="db_backend",
            suggestions=["Use db_backend='postgresql' or 'sqlite'"],
        )
    settings = database.pop("settings", None) or Settings.from_env()
    db: SnapshotDB
    if kind == "sqlite":
        db = SqliteDB(str(database.get("db_path") or DEFAULT_DB_PATH))
    else:
        db = PostgresDB(_conninfo(database), pool=_pool_sizes(settings, database),
                        connect_timeout=float(database.get("db_connect_timeout")
                                              or DEFAULT_CONNECT_TIMEOUT), wait=wait)
    if wait:  # else the first statement migrates it (SnapshotDB._ready)
        try:
            db.migrate()
        except SynthaError:
            db.close()
            raise
    return db


def _acquire_db(kind: str, database: dict[str, Any], settings: Settings,
                wait: bool) -> SnapshotDB:
    where = str(database.get("db_path") or DEFAULT_DB_PATH) if kind == "sqlite" \
        else _conninfo(database)
    with _lock:
        db, handles = _databases.get((kind, where), (None, 0))
        if db is None:
            db = create_database_backend(kind, settings=settings, wait=wait, **database)
        _databases[(kind, where)] = (db, handles + 1)
        return db


def _release_db(db: SnapshotDB) -> None:
    with _lock:
        for name, (known, handles) in list(_databases.items()):
            if known is db:
                if handles > 1:
                    _databases[name] = (db, handles - 1)
                else:
                    del _databases[name]
                    db.close()


class _Worker:
    """The process's background snapshotter for one Redis and one database."""

    def __init__(self, settings: Settings, db: SnapshotDB) -> None:
        # open mesh handles per user: two handles of one user share one capture
        self.users: Counter[str] = Counter()
        # the mesh backends it serves: a failed pass makes them all suspect a failover
        self.backends: weakref.WeakSet[SnapshotBackend] = weakref.WeakSet()
        self.snapshotter = Snapshotter(settings, db, users=lambda: sorted(self.users))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="syntha-snapshotter", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        self.snapshotter.run(stop=self.stopping.is_set, sleep=self.stopping.wait,
                             on_redis_failure=self._suspect_failover)

    @property
    def problem(self) -> str | None:
        """Why this process's capture does not run, None while it does."""
        if not self.thread.is_alive() and not self.stopping.is_set():
            return "the snapshot capture thread has stopped"
        return self.snapshotter.problem

    def _suspect_failover(self) -> None:
        for backend in list(self.backends):
            backend.suspect = True

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)


class SnapshotBackend:
    """``mesh.db_backend``: the snapshot of one mesh's user."""

    def __init__(self, mesh: Any, kind: str, durability: str, database: dict[str, Any]) -> None:
        self.settings: Settings = mesh.settings
        self.user_id: str = mesh.user_id
        self.durability = durability
        # sync: no snapshot, no mesh (a clear error within connect_timeout);
        # async: writes flow while the database is away, and health says so
        self.db = _acquire_db(kind, database, self.settings, wait=durability == "sync")
        self._closed = False
        # the mesh's stores carry it: a keyspace that lost its data is restored
        # from this snapshot before any call acts on it
        self.guard = KeyspaceGuard(self.settings, self.db, self.user_id)
        self.suspect = False
        try:
            self._attach_to_redis()
        except BaseException:
            _release_db(self.db)
            raise
        name = (self.settings.redis_url, self.settings.key_prefix, self.db.describe())
        with _lock:
            worker = _workers.get(name)
            if worker is None:
                worker = _workers[name] = _Worker(self.settings, self.db)
            worker.users[self.user_id] += 1
            worker.backends.add(self)
        self._worker = worker

    def _attach_to_redis(self) -> None:
        """Claim the user for this database (one system of record) and keep its
        stream from being trimmed past what this snapshot captured."""
        store = Store(self.settings)  # not the mesh's: these calls need no guard
        store.run(claim_user(self.settings, self.db, self.user_id))
        user_keys = keys.UserKeys(self.settings.key_prefix, self.user_id)
        store.execute(CommandCall(("SET", user_keys.captured, NO_FLOOR, "NX", "PX",
                                   FLOOR_TTL_MS)))
        # A restore of no rows: the version counter goes to the server clock at least.
        # A process that starts after a failover to a replica that missed writes saw
        # no error to make it repair, yet hands out no version given out before.
        store.execute(ScriptCall("restore", user_keys.root, (0, 0)))

    # -- the mesh store's link (syntha_redis.core.store.SnapshotLink) -----------------------

    @property
    def root(self) -> str:
        return self.guard.root

    @property
    def epoch_key(self) -> str:
        return self.guard.epoch_key

    def recover(self) -> object:
        return self.guard.recover()

    def repair(self) -> object:
        """Put back what a failover lost (``KeyspaceGuard.repair``), once the snapshot
        holds every change the stream still has."""
        self.suspect = False  # first: calls made meanwhile need no second repair
        try:
            if not self.flush(timeout=self.settings.socket_timeout * 2):
                log.warning("user %r: repairing before the snapshot caught up", self.user_id)
            return self.guard.repair()
        except SynthaError:
            self.suspect = True  # Redis or the snapshot still away: repair next time
            raise

    def after(self, call: ScriptCall, reply: Any) -> Callable[[], None] | None:
        """With sync durability: commit the rows of a write before it returns."""
        if self.durability != "sync" or call.root != self.guard.root:
            return None
        if call.name in NEEDS_CAPTURE:
            return self._await_capture
        batch = rows_of(self.user_id, call, reply)
        return None if not len(batch) else partial(self.db.write, batch)

    def _await_capture(self) -> None:
        if not self.flush(timeout=self.settings.socket_timeout * 6):
            why = self.problem
            raise SynthaPersistenceError(
                f"user {self.user_id!r}: the change is in Redis but the snapshot has not "
                f"confirmed it yet{f' ({why})' if why else ''}",
                backend=self.db.describe(),
                operation="write-through",
                suggestions=["Check the snapshot database; the change will be captured "
                             "from the stream once it is reachable"],
            )

    # -- Syntha's DatabaseBackend reads -----------------------------------------------

    def get_all_context_items(self) -> dict[str, tuple[Any, list[str], float | None, float]]:
        """``{key: (value, subscribers, ttl seconds, created_at)}`` as the snapshot holds them."""
        return {
            row.key: (
                decode_value(row.value or b"\xc0"),
                row.subscribers,
                None if row.expires_ms is None else (row.expires_ms - row.created_ms) / 1000,
                row.created_ms / 1000,
            )
            for row in self.db.items(self.user_id)
        }

    # -- lag -------------------------------------------------------------------------

    def lag(self) -> Lag:
        """What of this user the snapshot has not captured yet (entries, seconds, gap)."""
        return self._worker.snapshotter.lag([self.user_id])

    def lag_seconds(self) -> float:
        """Age of this user's oldest change not yet in the snapshot (0 = caught up)."""
        return self.lag().seconds

    @property
    def problem(self) -> str | None:
        """Why this mesh's changes do not reach the snapshot, None while they do."""
        return self.db.problem or self._worker.problem

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every change of this user so far is in the snapshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._worker.snapshotter.lag([self.user_id]).entries:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Detach this mesh; the last one stops the worker after a final flush."""
        if self._closed:
            return
        self._closed = True
        try:
            # a capture that fails now would only be waited out: its entries stay
            # pending for the next snapshotter either way
            if self.problem is not None:
                log.warning("snapshot not flushed on close (entries stay pending): %s",
                            self.problem)
            else:
                self.flush(timeout=5)
        except SynthaError as e:
            log.warning("snapshot not flushed on close (entries stay pending): %s", e)
        with _lock:
            self._worker.users[self.user_id] -= 1
            self._worker.users += Counter()  # drops users with no open handle
            last = not self._worker.users
            if last:
                _workers.pop(next(k for k, w in _workers.items() if w is self._worker))
        if last:
            self._worker.stop()
        _release_db(self.db)


def attach_backend(
    mesh: Any, db_backend: str, durability: str, database: dict[str, Any]
) -> SnapshotBackend:
    kind = BACKENDS.get(db_backend)
    if kind is None:
        raise SynthaConfigurationError(
            f"unknown db_backend {db_backend!r}",
            config_key="db_backend",
            suggestions=["Use db_backend='postgresql' (with connection_string) or 'sqlite'"],
        )
    if durability not in DURABILITY:
        raise SynthaConfigurationError(
            f"unknown durability {durability!r}",
            config_key="durability",
            suggestions=["Use durability='async' (default, lag reported) or 'sync' "
                         "(push returns after its row is committed)"],
        )
    return SnapshotBackend(mesh, kind, durability, database)
