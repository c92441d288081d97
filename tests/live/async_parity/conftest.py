"""The core behavioural suite again, with ``mesh`` an AsyncContextMesh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syntha_redis.async_context import AsyncContextMesh
from tests.support.async_mesh import BlockingAsyncMesh, EventLoopThread


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[EventLoopThread]:
    runner = EventLoopThread()
    yield runner
    runner.stop()


@pytest.fixture
def mesh_factory(
    redis_url: str | None, key_prefix: str, loop_thread: EventLoopThread
) -> Iterator[Callable[..., Any]]:
    made: list[BlockingAsyncMesh] = []

    def make(user_id: str | None = "user-1", **options: Any) -> BlockingAsyncMesh:
        options.setdefault("redis_url", redis_url)
        options.setdefault("key_prefix", key_prefix)
        mesh = BlockingAsyncMesh(AsyncContextMesh(user_id=user_id, **options), loop_thread)
        made.append(mesh)
        return mesh

    yield make
    for mesh in made:
        mesh.close()
