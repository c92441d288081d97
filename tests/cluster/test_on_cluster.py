"""The features beyond the core API also run on a loopback Redis Cluster: the
change feed (sharded pub/sub wakes the watcher on the user's node), batches (one
script call per user's slot), the async mesh, and the snapshotter + restore."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syntha_redis import AsyncContextMesh, ContextMesh, Settings
from syntha_redis.snapshot import Snapshotter, SqliteDB, restore_user
from tests.conftest import delete_prefix


@pytest.fixture
def settings(cluster_url: str) -> Iterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield Settings(redis_url=cluster_url, key_prefix=prefix)
    delete_prefix(cluster_url, prefix)


@pytest.mark.parametrize("user", ["alice", "bob{x}", "carol*"])
def test_watch_is_woken_by_a_push_on_the_users_node(settings: Settings, user: str) -> None:
    mesh = ContextMesh(user_id=user, settings=settings, watch_poll_interval=30)
    mesh.register_agent_topics("analyst", ["sales"])
    received: list[str] = []
    watch = mesh.watch("analyst", timeout=5)

    def read_one() -> None:
        # up to the first item event: "hidden", pushed first, must not be it
        for event in watch:
            if event.type == "pushed":
                received.append(event.key or "")
                return

    reader = threading.Thread(target=read_one)
    reader.start()
    mesh.push("hidden", 0, subscribers=["someone-else"])
    mesh.push("deal", 1, topics=["sales"])
    reader.join(timeout=10)
    watch.close()
    # the poll interval is 30 s, so only a sharded pub/sub wake-up delivers in time
    assert received == ["deal"]


def test_batches_are_one_script_call_on_a_cluster(settings: Settings) -> None:
    mesh = ContextMesh(user_id="batcher", settings=settings)
    versions = mesh.push_many(
        [{"key": f"k{i}", "value": i, "topics": ["t"]} for i in range(50)]
    )
    assert versions == sorted(versions) and len(set(versions)) == 50
    assert mesh.get_many([f"k{i}" for i in range(0, 50, 10)]) == {
        f"k{i}": i for i in range(0, 50, 10)
    }


def test_async_mesh_on_a_cluster(settings: Settings) -> None:
    async def scenario() -> dict[str, object]:
        mesh = AsyncContextMesh(user_id="async", settings=settings)
        await mesh.register_agent_topics("a", ["ops"])
        await asyncio.gather(*(mesh.push(f"k{i}", i, topics=["ops"]) for i in range(20)))
        return await mesh.get_all_for_agent("a")

    assert asyncio.run(scenario()) == {f"k{i}": i for i in range(20)}


def test_snapshot_and_restore_from_a_cluster(settings: Settings, tmp_path: Path) -> None:
    users = ["u1", "u2{tag}", "u3"]
    for user in users:
        mesh = ContextMesh(user_id=user, settings=settings)
        mesh.push("k", user, topics=["t"])
        mesh.register_agent_topics("a", ["t"])
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    Snapshotter(settings, db).drain()
    assert {u: [r.key for r in db.items(u)] for u in users} == {u: ["k"] for u in users}
    delete_prefix(settings.redis_url, settings.key_prefix)  # Redis loses everything
    for user in users:
        restore_user(settings, db, user)
        assert ContextMesh(user_id=user, settings=settings).get_all_for_agent("a") == {"k": user}
