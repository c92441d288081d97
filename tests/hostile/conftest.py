"""Fixtures of the hostile-tenant tests: a deployment of two users on the machine's
Redis (its own key prefix) and a snapshot in a Postgres schema of the test's own.

alice is the attacker, bob the victim. The focused tests write what alice's ACL
allows her (tests/acl checks the ACL) with an admin client, which is the same
bytes in the same keys; tests/hostile/test_generated.py runs with real ACLs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY

from syntha_redis import ContextMesh, Settings
from syntha_redis.snapshot import PostgresDB, Snapshotter
from tests.conftest import delete_prefix
from tests.support.servers import MACHINE_REDIS_URL


@dataclass
class Deployment:
    settings: Settings
    admin: redis.Redis
    alice: ContextMesh
    bob: ContextMesh
    snap: Snapshotter
    dsn: str

    @property
    def prefix(self) -> str:
        return self.settings.key_prefix

    def key(self, user: str, suffix: str) -> str:
        return f"{self.prefix}:{{u:{user}}}:{suffix}"

    def joins(self) -> str:
        return f"{self.prefix}:{{registry}}:joins"

    def asks(self) -> str:
        return f"{self.prefix}:{{registry}}:limit-asks"

    def captured(self, user: str, key: str) -> Any:
        return {r.key: r for r in self.snap.db.items(user)}.get(key)


def set_aside(reader: str, kind: str) -> float:
    """How many reads ``reader`` set aside as ``kind`` in this process so far."""
    return REGISTRY.get_sample_value("syntha_redis_malformed_data_total",
                                     {"reader": reader, "kind": kind}) or 0.0


@pytest.fixture
def deployment(pg_dsn: str) -> Iterator[Deployment]:
    prefix = f"h{uuid.uuid4().hex[:10]}"
    settings = Settings(redis_url=MACHINE_REDIS_URL, key_prefix=prefix)
    meshes = {user: ContextMesh(user_id=user, redis_url=MACHINE_REDIS_URL, key_prefix=prefix,
                                auto_cleanup=False)
              for user in ("alice", "bob")}
    for mesh in meshes.values():
        mesh.push("hello", 1)  # registers the user and creates its keyspace
    db = PostgresDB(pg_dsn)
    db.migrate()
    snap = Snapshotter(settings, db, claim_idle_ms=0)
    snap.drain()
    admin = redis.Redis.from_url(MACHINE_REDIS_URL)
    yield Deployment(settings, admin, meshes["alice"], meshes["bob"], snap, pg_dsn)
    for mesh in meshes.values():
        mesh.close()
    db.close()
    admin.close()
    delete_prefix(MACHINE_REDIS_URL, prefix)
