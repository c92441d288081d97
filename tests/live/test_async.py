"""AsyncContextMesh: the change feed and batches, awaited."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from syntha_redis import SynthaConflictError
from syntha_redis.async_context import AsyncContextMesh


@pytest.fixture
async def amesh(redis_url: str | None, key_prefix: str) -> AsyncIterator[AsyncContextMesh]:
    async with AsyncContextMesh(user_id="u", redis_url=redis_url, key_prefix=key_prefix) as m:
        yield m


async def test_async_watch_wakes_on_a_push(
    redis_url: str | None, key_prefix: str, amesh: AsyncContextMesh
) -> None:
    slow_poll = AsyncContextMesh(
        user_id="u", redis_url=redis_url, key_prefix=key_prefix, watch_poll_interval=60
    )
    await amesh.register_agent_topics("a", ["t"])
    start = slow_poll.watch("a", timeout=0)
    assert [e async for e in start] == []

    async def later() -> None:
        await asyncio.sleep(0.05)
        await amesh.push("hidden", 1, subscribers=["b"])
        await amesh.push("shown", 1, topics=["t"])

    writer = asyncio.create_task(later())
    async with slow_poll.watch("a", since=start.cursor, timeout=10) as watch:
        event = await asyncio.wait_for(watch.__anext__(), timeout=10)
    await writer
    assert (event.type, event.key) == ("pushed", "shown")


async def test_new_changes_count_from_the_watch_call_without_blocking_the_loop(
    amesh: AsyncContextMesh,
) -> None:
    await amesh.push("before", 0)
    watch = amesh.watch("a", timeout=2)
    # watch() only started the read of the stream's end: nothing awaited yet
    assert watch.cursor == "$"
    await amesh.push("after", 1)  # the mesh's next call: sent after that read
    async with watch:
        event = await asyncio.wait_for(watch.__anext__(), timeout=5)
    assert (event.type, event.key) == ("pushed", "after")


async def test_async_batches_and_compare_and_set(amesh: AsyncContextMesh) -> None:
    versions = await amesh.push_many([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    assert await amesh.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    with pytest.raises(SynthaConflictError) as caught:
        await amesh.push("a", 5, expected_version=versions[0] - 1)
    assert caught.value.current_version == versions[0]
    assert await amesh.push("a", 5, expected_version=versions[0]) > versions[1]


def test_one_async_mesh_serves_successive_event_loops(
    redis_url: str | None, key_prefix: str
) -> None:
    mesh = AsyncContextMesh(user_id="u", redis_url=redis_url, key_prefix=key_prefix)
    for i in range(3):  # each asyncio.run is a new loop, possibly at a recycled id
        assert asyncio.run(mesh.push("k", i)) > 0
    assert asyncio.run(mesh.get("k")) == 2


async def test_sync_durability_commits_before_push_returns_without_blocking_the_loop(
    redis_url: str | None, key_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh = AsyncContextMesh(
        user_id="durable", redis_url=redis_url, key_prefix=key_prefix,
        db_backend="sqlite", db_path=str(tmp_path / "snapshot.db"), durability="sync",
    )
    db = mesh.db_backend.db
    writing, release = threading.Event(), threading.Event()
    write = db.write

    def held_write(batch: Any) -> None:
        # Holds the database write until the test task, on the event loop, lets it
        # go: were the write on the loop, nothing could, and it would time out.
        writing.set()
        if not release.wait(timeout=10):
            raise AssertionError("the event loop was blocked during the database write")
        write(batch)

    monkeypatch.setattr(db, "write", held_write)
    try:
        push = asyncio.create_task(mesh.push("k", {"v": 1}))
        assert await asyncio.to_thread(writing.wait, 10)
        assert not push.done()  # this task runs while the push waits on the database
        release.set()
        await push
        assert mesh.db_backend.get_all_context_items()["k"][0] == {"v": 1}
    finally:
        release.set()
        await mesh.close()
