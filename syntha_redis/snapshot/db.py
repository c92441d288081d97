"""The snapshot database: version-guarded writes and the reads restore needs.

``SnapshotDB`` holds every statement once; ``PostgresDB`` (a psycopg_pool
pool) and ``SqliteDB`` (one file, one connection) only open transactions.
Every write is an upsert guarded by version (``ON CONFLICT ... DO UPDATE ...
WHERE stored.version < excluded.version``, the same text in both dialects),
so replaying or reordering batches never moves a row backwards, and a batch
is one transaction of ``executemany`` calls (psycopg pipelines them), never a
commit per row.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from syntha_redis.core import keys
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaConnectionError,
    SynthaPersistenceError,
)
from syntha_redis.snapshot.rows import AgentRow, Batch, ItemRow
from syntha_redis.snapshot.schema import (
    MIGRATIONS,
    POSTGRES,
    SQLITE,
    Dialect,
    Tables,
    migration_table,
    validate_table_prefix,
)

__all__ = ["SnapshotDB", "PostgresDB", "SqliteDB", "PoolSizes", "require_postgres_extra"]

COPY_THRESHOLD = 100  # Postgres: from this many item rows, COPY beats executemany

ITEM_COLUMNS = (
    "user_id, key, value, topics, subscribers, author, version, created_ms, expires_ms, deleted"
)


class PoolSizes:
    """Syntha's pool keywords, as psycopg_pool understands them."""

    def __init__(
        self,
        pool_size: int = 5,
        max_overflow: int = 0,
        pool_timeout: float = 30.0,
        pool_recycle: float = 3600.0,
    ) -> None:
        self.min_size = pool_size
        self.max_size = pool_size + max_overflow
        self.timeout = pool_timeout
        self.max_lifetime = pool_recycle


class SnapshotDB(ABC):
    """The statements of the snapshot, in one dialect."""

    dialect: Dialect

    _scope = ""  # what else than describe() and the tables tells two databases apart

    def __init__(self, table_prefix: str) -> None:
        self.tables = Tables(validate_table_prefix(table_prefix))
        self._migrated = False  # a database away at start is migrated on first use
        t, sql = self.tables, self.dialect.sql
        # the version guard: how any set of rows merges into the items table
        self._merge_items = (
            "ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, "
            "topics = excluded.topics, subscribers = excluded.subscribers, "
            "author = excluded.author, version = excluded.version, "
            "created_ms = excluded.created_ms, expires_ms = excluded.expires_ms, "
            f"deleted = excluded.deleted WHERE {t.items}.version < excluded.version"
        )
        self._upsert_item = sql(
            f"INSERT INTO {t.items} ({ITEM_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            + self._merge_items
        )
        self._upsert_agent = sql(
            f"INSERT INTO {t.agents} (user_id, agent, kind, topics, version) "
            "VALUES (%s,%s,%s,%s,%s) ON CONFLICT (user_id, agent, kind) DO UPDATE SET "
            "topics = excluded.topics, version = excluded.version "
            f"WHERE {t.agents}.version < excluded.version"
        )
        self._clear = [
            sql(
                f"INSERT INTO {t.users} (user_id, cleared_version) VALUES (%s, %s) "
                "ON CONFLICT (user_id) DO UPDATE SET cleared_version = excluded.cleared_version "
                f"WHERE {t.users}.cleared_version < excluded.cleared_version"
            ),
            sql(
                f"UPDATE {t.items} SET deleted = %s, value = NULL, version = %s "
                "WHERE user_id = %s AND version < %s"
            ),
            sql(
                f"UPDATE {t.agents} SET topics = %s, version = %s "
                "WHERE user_id = %s AND version < %s"
            ),
        ]
        self._cleared = (
            f"COALESCE((SELECT cleared_version FROM {t.users} u WHERE u.user_id = %s), 0)"
        )

    # -- connections (the only dialect-specific part) --------------------------------

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager yielding a cursor; commits on success, rolls back on error."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the snapshot lives, without secrets."""

    @property
    def problem(self) -> str | None:
        """Why the database cannot be used yet, None when nothing is known against it."""
        return None

    @property
    def full_name(self) -> str:
        """``describe()`` with what else tells two databases apart (options, tables)."""
        scope = f" {self._scope}" if self._scope else ""
        return f"{self.describe()}{scope} tables {self.tables.prefix}*"

    @property
    def capture_group(self) -> str:
        """The stream consumer group that captures into this database.

        One group per database: every snapshotter of one database shares its
        group's work, and meshes of one user that name different databases
        each get every change (one group would split the changes between them).
        """
        where = f"{self.describe()}|{self._scope}|{self.tables.items}"
        return f"{keys.SNAPSHOT_GROUP}:{hashlib.sha1(where.encode()).hexdigest()[:12]}"

    # -- schema ----------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks; returns their versions."""
        t, d = self.tables, self.dialect
        applied = []
        with self.transaction() as cur:
            if d.migration_lock:
                cur.execute(d.migration_lock)
            cur.execute(migration_table(t))
            cur.execute(f"SELECT version FROM {t.migrations}")
            done = {int(row[0]) for row in cur.fetchall()}
            for version, description, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements(t, d):
                    cur.execute(statement)
                cur.execute(
                    d.sql(f"INSERT INTO {t.migrations} VALUES (%s, %s, %s)"),
                    (version, description, int(time.time() * 1000)),
                )
                applied.append(version)
        self._migrated = True
        return applied

    def _ready(self) -> None:
        if not self._migrated:
            self.migrate()

    # -- writes ----------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Write ``batch`` in one transaction (its newest rows only)."""
        self._ready()
        batch = batch.latest()
        dump = self.dialect.dump_list
        with self.transaction() as cur:
            if batch.items:
                self._write_items(cur, [
                    (r.user_id, r.key, r.value, dump(r.topics), dump(r.subscribers),
                     r.author, r.version, r.created_ms, r.expires_ms, r.deleted)
                    for r in batch.items
                ])
            if batch.agents:
                cur.executemany(
                    self._upsert_agent,
                    [(a.user_id, a.agent, a.kind, dump(a.topics), a.version) for a in batch.agents],
                )
            for user, version in batch.clears:
                users, items, agents = self._clear
                cur.execute(users, (user, version))
                cur.execute(items, (True, version, user, version))
                cur.execute(agents, (dump([]), version, user, version))

    def _write_items(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        """Upsert item rows (one per primary key) inside the open transaction."""
        cur.executemany(self._upsert_item, rows)

    # -- reads -----------------------------------------------------------------------

    def items(self, user_id: str) -> list[ItemRow]:
        """The user's live (not deleted, not cleared) rows, expired ones included."""
        t, load = self.tables, self.dialect.load_list
        query = self.dialect.sql(
            f"SELECT {ITEM_COLUMNS} FROM {t.items} i WHERE i.user_id = %s AND NOT i.deleted "
            f"AND i.version > {self._cleared} ORDER BY i.key"
        )
        self._ready()
        with self.transaction() as cur:
            cur.execute(query, (user_id, user_id))
            rows = cur.fetchall()
        return [
            ItemRow(r[0], r[1], bytes(r[2]), load(r[3]), load(r[4]), r[5], int(r[6]),
                    int(r[7]), None if r[8] is None else int(r[8]), False)
            for r in rows
        ]

    def agents(self, user_id: str) -> list[AgentRow]:
        """The user's agent rows with at least one topic."""
        t, load = self.tables, self.dialect.load_list
        query = self.dialect.sql(
            f"SELECT user_id, agent, kind, topics, version FROM {t.agents} a "
            f"WHERE a.user_id = %s AND a.version > {self._cleared} ORDER BY agent, kind"
        )
        self._ready()
        with self.transaction() as cur:
            cur.execute(query, (user_id, user_id))
            rows = cur.fetchall()
        found = [AgentRow(r[0], r[1], r[2], load(r[3]), int(r[4])) for r in rows]
        return [a for a in found if a.topics]

    def highest_version(self, user_id: str) -> int:
        """The highest version captured for the user (rows, tombstones or clear)."""
        t = self.tables
        query = self.dialect.sql(
            f"SELECT MAX(v) FROM (SELECT MAX(version) AS v FROM {t.items} WHERE user_id = %s "
            f"UNION ALL SELECT MAX(version) FROM {t.agents} WHERE user_id = %s "
            f"UNION ALL SELECT cleared_version FROM {t.users} WHERE user_id = %s) AS versions"
        )
        self._ready()
        with self.transaction() as cur:
            cur.execute(query, (user_id, user_id, user_id))
            row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def users(self) -> list[str]:
        self._ready()
        t = self.tables
        with self.transaction() as cur:
            cur.execute(
                f"SELECT user_id FROM {t.items} UNION SELECT user_id FROM {t.agents} "
                "ORDER BY 1"
            )
            return [str(r[0]) for r in cur.fetchall()]


def require_postgres_extra() -> None:
    """A clear error, naming the extra, when psycopg or psycopg_pool is missing."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as e:
        raise SynthaConfigurationError(
            f"db_backend='postgresql' needs the postgres extra: {e.name} is not installed",
            config_key="db_backend",
            cause=e,
            suggestions=["pip install 'syntha_redis[postgres]'"],
        ) from None


class PostgresDB(SnapshotDB):
    """The snapshot in Postgres, through a psycopg_pool connection pool."""

    dialect = POSTGRES

    def __init__(self, conninfo: str, table_prefix: str = "syntha_",
                 pool: PoolSizes | None = None, connect_timeout: float | None = None,
                 wait: bool = True) -> None:
        """``connect_timeout`` (seconds, default the pool timeout) bounds the wait
        for the first connections; with ``wait=False`` the pool keeps trying in
        the background and the first statement waits for it."""
        super().__init__(table_prefix)
        require_postgres_extra()
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg_pool import ConnectionPool

        self._errors = (psycopg.Error, _pool_errors())
        sizes = pool or PoolSizes()
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.ProgrammingError as e:
            raise SynthaConfigurationError(
                f"cannot read the Postgres connection string: {_first_line(e)}",
                config_key="connection_string",
                suggestions=["Write it as postgresql://user:password@host:5432/dbname "
                             "(or key=value pairs: host=... dbname=...)"],
            ) from None
        self._where = f"postgresql://{params.get('host', 'localhost')}:" \
            f"{params.get('port', 5432)}/{params.get('dbname', '')}"
        self._scope = str(params.get("options", ""))  # e.g. a search_path
        self._conninfo = conninfo
        # until a connection was made, a statement waits connect_timeout, not the
        # pool's whole timeout: a database that was never reached is likely down
        self._first_wait: float | None = connect_timeout or sizes.timeout
        # Waiting for the pool: one plain connection first, so an unknown host or a
        # refused login fails in milliseconds with its own reason, not after the
        # pool's whole wait behind a log line per attempt. (Without waiting, the
        # pool keeps trying in the background: an async mesh starts without it.)
        try:
            if wait:
                psycopg.connect(conninfo, connect_timeout=max(
                    1, round(connect_timeout or sizes.timeout))).close()
        except psycopg.Error as e:
            raise SynthaConnectionError(
                f"cannot reach Postgres at {self._where}: {_first_line(e)}",
                service="postgresql",
                cause=e,
                suggestions=[f"Check that Postgres at {self._where} is up and accepts this "
                             "user, and the connection string / SYNTHA_DB_URL"],
            ) from None
        self.pool = ConnectionPool(
            conninfo,
            min_size=min(sizes.min_size, sizes.max_size),
            max_size=sizes.max_size,
            timeout=sizes.timeout,
            max_lifetime=sizes.max_lifetime,
            open=False,
        )
        if not wait:
            self.pool.open(wait=False)
            return
        try:
            self.pool.open(wait=True, timeout=connect_timeout or sizes.timeout)
        except self._errors as e:
            self.pool.close()
            raise self._translate(e) from e

    def _write_items(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        """Large batches: COPY into a temporary stage, then one merge statement.

        About 1.3x the rows/s of a pipelined executemany here (perf_anchors
        section 7). The rows are one per primary key (Batch.latest), so the
        single INSERT ... SELECT never meets the same row twice.
        """
        if len(rows) < COPY_THRESHOLD:
            super()._write_items(cur, rows)
            return
        t = self.tables
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {t.prefix}stage "
                    f"(LIKE {t.items}) ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {t.prefix}stage ({ITEM_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(f"INSERT INTO {t.items} ({ITEM_COLUMNS}) "
                    f"SELECT {ITEM_COLUMNS} FROM {t.prefix}stage " + self._merge_items)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        try:
            with self.pool.connection(timeout=self._first_wait) as conn, \
                    conn.transaction(), conn.cursor() as cur:
                self._first_wait = None
                yield cur
        except self._errors as e:
            raise self._translate(e) from e

    def _why_unreachable(self) -> str:
        """The reason a plain connection gives (the pool's timeout names none)."""
        import psycopg

        try:
            psycopg.connect(self._conninfo, connect_timeout=2).close()
        except psycopg.Error as e:
            return _first_line(e)
        return "no connection was free in the pool in time"

    def _translate(self, error: Exception) -> Exception:
        import psycopg

        # psycopg files "program limit exceeded" (a row too big to index: a
        # statement about one row) under OperationalError too; only a failure
        # without a server answer, or of the connection's SQLSTATE classes
        # (08, 53, 57, 58), means Postgres cannot be used
        sqlstate = getattr(error, "sqlstate", None) or ""
        unusable = isinstance(error, psycopg.OperationalError) and (
            not sqlstate or sqlstate[:2] in ("08", "53", "57", "58"))
        if unusable or isinstance(error, _pool_errors()):
            reason = self._why_unreachable() if isinstance(error, _pool_errors()) else error
            return SynthaConnectionError(
                f"cannot use Postgres at {self._where}: {reason}",
                service="postgresql",
                cause=error,
                suggestions=[f"Check that Postgres at {self._where} is up and accepts us"],
            )
        return SynthaPersistenceError(
            f"Postgres at {self._where} refused a snapshot statement: {error}",
            backend="postgresql",
            cause=error,
            suggestions=["Check the snapshot tables (syntha-redis snapshot verify)"],
        )

    def close(self) -> None:
        self.pool.close()

    def describe(self) -> str:
        return self._where

    @property
    def problem(self) -> str | None:
        if self._migrated:
            return None  # any later outage shows as a failed capture
        stats = self.pool.get_stats()
        if stats.get("connections_errors") and not stats.get("pool_available"):
            return f"cannot reach Postgres at {self._where} (started without it)"
        return None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _pool_errors() -> type[Exception]:
    from psycopg_pool import PoolTimeout

    return PoolTimeout


class SqliteDB(SnapshotDB):
    """The snapshot in one local SQLite file (the embedded default's durability)."""

    dialect = SQLITE

    def __init__(self, path: str, table_prefix: str = "syntha_") -> None:
        super().__init__(table_prefix)
        self.path = path
        fresh = not Path(path).exists()
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a
            # transaction takes the write lock up front instead of upgrading.
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                         timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as e:
            raise self._translate(e) from e
        if fresh and path != ":memory:":
            Path(path).chmod(0o600)  # context may be private: owner only, as Syntha did
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except sqlite3.Error as e:
                self._conn.rollback()
                raise self._translate(e) from e
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                cur.close()

    def _translate(self, error: Exception) -> Exception:
        return SynthaPersistenceError(
            f"SQLite snapshot {self.path} failed: {error}",
            backend="sqlite",
            cause=error,
            suggestions=[f"Check that {self.path} is writable and not corrupt"],
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def describe(self) -> str:
        return f"sqlite:{os.path.abspath(self.path)}"
