"""Fixtures for the snapshot tests: real Postgres (database ``test``), private Redis servers.

Each test gets its own Postgres schema (``pg_dsn``, from tests/conftest.py: dropped
afterwards, nothing else is touched) and its own key prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syntha_redis.core.config import Settings
from syntha_redis.snapshot import PostgresDB, SnapshotDB, SqliteDB
from tests.support.servers import RedisProcess


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
