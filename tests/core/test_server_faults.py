"""The mesh on a Redis that loses its script cache, restarts, or runs out of memory.

Each test runs its own redis-server on a free loopback port and stops it by pid.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from syntha_redis import ContextMesh, SynthaConnectionError, SynthaPersistenceError
from syntha_redis.core import keys
from tests.support.servers import RedisProcess


@pytest.fixture
def server() -> Iterator[RedisProcess]:
    process = RedisProcess().start()
    yield process
    process.stop()


def test_a_flushed_script_cache_is_reloaded_transparently(server: RedisProcess) -> None:
    mesh = ContextMesh(user_id="u", redis_url=server.url)
    mesh.push("before", 1, topics=["t"])
    redis.Redis.from_url(server.url).script_flush()
    mesh.push("after", 2, topics=["t"])
    mesh.register_agent_topics("a", ["t"])
    assert mesh.get_all_for_agent("a") == {"before": 1, "after": 2}


def test_the_mesh_reconnects_after_a_redis_restart(server: RedisProcess) -> None:
    mesh = ContextMesh(user_id="u", redis_url=server.url, retries=1, connect_timeout=0.5)
    mesh.push("k", "v")
    server.kill()
    with pytest.raises(SynthaConnectionError):
        mesh.get("k")
    restarted = RedisProcess(port=server.port).start()  # same port, empty (no persistence)
    try:
        assert mesh.get("k") is None
        mesh.push("k", "again")
        assert mesh.get("k") == "again"
    finally:
        restarted.stop()


def test_out_of_memory_is_a_clear_error_and_keeps_what_is_stored(server: RedisProcess) -> None:
    client = redis.Redis.from_url(server.url)
    mesh = ContextMesh(user_id="u", redis_url=server.url)
    mesh.push("kept", "safe")
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used + 200_000)
    client.config_set("maxmemory-policy", "noeviction")
    with pytest.raises(SynthaPersistenceError) as info:
        for i in range(10_000):
            mesh.push(f"filler-{i}", "x" * 1000)
    assert "OOM" in info.value.message or "memory" in info.value.message.lower()
    assert info.value.suggestion
    client.config_set("maxmemory", 0)
    assert mesh.get("kept") == "safe"
    assert mesh.size() == len(mesh.get_keys_for_agent("anyone"))


def test_the_snapshotter_reads_items_after_the_script_cache_is_flushed(
    server: RedisProcess, tmp_path: Path
) -> None:
    from syntha_redis.core.config import Settings
    from syntha_redis.snapshot import Snapshotter, SqliteDB

    mesh = ContextMesh(user_id="u", redis_url=server.url)
    version = mesh.push("deal", {"amount": 42})
    redis.Redis.from_url(server.url).script_flush()
    snapshotter = Snapshotter(Settings(redis_url=server.url), SqliteDB(str(tmp_path / "s.db")))
    (row,) = snapshotter.read_items([("u", keys.encode("deal"))])
    assert (row.user_id, row.key, row.version) == ("u", "deal", version)
