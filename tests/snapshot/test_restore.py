"""Restore: snapshot rows back into an empty or partly empty Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh
from syntha_redis.core.config import Settings
from syntha_redis.snapshot import SnapshotDB, Snapshotter, restore_user
from tests.support.servers import RedisProcess


def _captured(settings: Settings, db: SnapshotDB) -> ContextMesh:
    mesh = ContextMesh(user_id="alice", settings=settings)
    mesh.push("plan", {"step": 2}, topics=["sales"], subscribers=["carol"], ttl=120,
              agent_name="bob")
    mesh.push("short", 1, ttl=0.2)
    mesh.push("forever", [1, 2])
    mesh.register_agent_topics("bob", ["sales"])
    mesh.set_agent_post_permissions("bob", ["sales"])
    Snapshotter(settings, db).drain()
    time.sleep(0.2)  # "short" is in the snapshot and expired now: a restore must skip it
    return mesh


def test_restore_into_a_fresh_redis(settings: Settings, snapdb: SnapshotDB) -> None:
    before = _captured(settings, snapdb).get_item("plan")
    fresh = RedisProcess().start()
    try:
        again = settings.model_copy(update={"redis_url": fresh.url})
        report = restore_user(again, snapdb, "alice")
        assert (report.applied, report.expired) == (2, 1)
        mesh = ContextMesh(user_id="alice", settings=again)
        item = mesh.get_item("plan")
        assert item is not None and before is not None
        assert (item.value, item.version, item.author, item.created_at, item.expires_at) == (
            before.value, before.version, before.author, before.created_at, before.expires_at)
        assert mesh.get("plan", agent_name="bob") == {"step": 2}  # routing rebuilt
        assert mesh.get("forever") == [1, 2] and mesh.get("short") is None
        assert mesh.get_agent_post_permissions("bob") == ["sales"]
        assert mesh.push("next", 0) > before.version  # the version counter was lifted
        assert restore_user(again, snapdb, "alice").applied == 0  # idempotent
    finally:
        fresh.stop()


def test_restore_keeps_newer_redis_copies(settings: Settings, snapdb: SnapshotDB) -> None:
    mesh = _captured(settings, snapdb)
    newer = mesh.push("plan", "newer")
    report = restore_user(settings, snapdb, "alice")
    assert report.applied == 0 and report.not_newer == 2
    item = mesh.get_item("plan")
    assert item is not None and (item.value, item.version) == ("newer", newer)


@pytest.mark.parametrize("variant", ["connection_string", "host"])
def test_mesh_restores_its_user_when_redis_is_empty(
    variant: str, pg_dsn: str, prefix: str, private_redis: RedisProcess
) -> None:
    def options() -> dict[str, object]:
        if variant == "connection_string":
            return {"connection_string": pg_dsn}
        from psycopg.conninfo import conninfo_to_dict

        p = conninfo_to_dict(pg_dsn)
        return {"host": p["host"], "port": 5432, "database": p["dbname"],
                "user": p.get("user") or "root", "password": "",
                "pool_size": 20, "max_overflow": 30, "pool_timeout": 30, "pool_recycle": 3600,
                "sslmode": "disable"}

    make: Callable[[str], ContextMesh] = lambda url: ContextMesh(  # noqa: E731
        user_id="u1", enable_persistence=True, db_backend="postgresql", redis_url=url,
        key_prefix=prefix, durability="sync", **options())
    with make(private_redis.url) as mesh:
        mesh.push("k", {"v": 1})
        mesh.register_agent_topics("bob", ["ops"])
        assert mesh.db_backend.flush(10)
        assert set(mesh.db_backend.get_all_context_items()) == {"k"}
    fresh = RedisProcess().start()
    try:
        with make(fresh.url) as mesh:
            assert mesh.get("k") == {"v": 1}
            assert mesh.get_topics_for_agent("bob") == ["ops"]
    finally:
        fresh.stop()


def test_sqlite_backend_survives_an_embedded_restart(tmp_path: object, prefix: str,
                                                     private_redis: RedisProcess) -> None:
    path = f"{tmp_path}/ctx.db"
    with ContextMesh(user_id="u1", db_backend="sqlite", db_path=path,
                     redis_url=private_redis.url, key_prefix=prefix) as mesh:
        mesh.push("k", "v")
    fresh = RedisProcess().start()
    try:
        with ContextMesh(user_id="u1", db_backend="sqlite", db_path=path,
                         redis_url=fresh.url, key_prefix=prefix) as mesh:
            assert mesh.get("k") == "v"
    finally:
        fresh.stop()
