"""Fixtures for the snapshot tests: real Postgres (database ``test``), private Redis servers.

Each test gets its own Postgres schema (dropped afterwards, nothing else is
touched) and its own key prefix. With CI=true a missing Postgres is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from syntha_redis.config import Settings
from syntha_redis.snapshot import PostgresDB, SnapshotDB, SqliteDB
from tests.support.servers import IN_CI, RedisProcess

PG_BASE = os.environ.get("SYNTHA_TEST_PG_DSN", "")
PG_CANDIDATES = [PG_BASE] if PG_BASE else [
    "postgresql://127.0.0.1:5432/test",
    "postgresql://postgres@127.0.0.1:5432/test",
]


def _reachable_pg() -> str | None:
    for dsn in PG_CANDIDATES:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return dsn
        except psycopg.Error:
            continue
    return None


@pytest.fixture(scope="session")
def pg_base() -> str:
    dsn = _reachable_pg()
    if dsn is None:
        message = f"Postgres is not reachable ({', '.join(PG_CANDIDATES)})"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing server is a failure)")
        pytest.skip(message)
    return dsn


@pytest.fixture
def pg_dsn(pg_base: str) -> Iterator[str]:
    """A DSN whose search_path is a fresh schema of this test."""
    schema = f"snap_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_base else "?"
    yield f"{pg_base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["postgresql", "sqlite"])
def snapdb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SnapshotDB]:
    """A migrated snapshot database of each dialect, private to the test."""
    db: SnapshotDB
    if request.param == "sqlite":
        db = SqliteDB(str(tmp_path / "snapshot.db"))
    else:
        db = PostgresDB(request.getfixturevalue("pg_dsn"))
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def settings(private_redis: RedisProcess, prefix: str) -> Settings:
    return Settings(redis_url=private_redis.url, key_prefix=prefix)
