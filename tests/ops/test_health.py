"""mesh.health(): status, server facts, and an unreachable Redis reported, not raised."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from syntha_redis import AsyncContextMesh, ContextMesh
from tests.support.servers import RedisProcess


def test_reachable_redis_is_healthy_with_its_facts(
    mesh: ContextMesh, redis_url: str | None
) -> None:
    start = time.perf_counter()
    report = mesh.health()
    elapsed_ms = (time.perf_counter() - start) * 1000
    assert report.status == "healthy" and report.healthy
    assert report.reachable and report.error is None
    # one PING: a real round trip, within the time the whole check took
    assert report.latency_ms is not None and 0 < report.latency_ms <= elapsed_ms
    assert report.server_version
    if redis_url is not None:
        assert report.used_memory is not None and report.used_memory > 0
        assert report.maxmemory is not None


def test_stream_length_counts_the_users_changes(mesh: ContextMesh) -> None:
    assert mesh.health().stream_length == 0
    mesh.push("a", 1)
    mesh.push("b", 2)
    assert mesh.health().stream_length == 2


def test_dead_server_is_unhealthy_with_error_and_suggestion(dead_url: str) -> None:
    mesh = ContextMesh(user_id="u", redis_url=dead_url, auto_cleanup=False)
    report = mesh.health()
    assert report.status == "unhealthy" and not report.reachable
    assert report.error is not None and "cannot reach Redis" in report.error
    assert any(dead_url in s for s in report.suggestions)


def test_scripts_are_reported_missing_on_a_fresh_server(private_redis: RedisProcess) -> None:
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, auto_cleanup=False)
    assert mesh.health().scripts_loaded is False
    assert mesh.health().status == "healthy"  # they load on first use


def test_memory_above_the_limit_is_degraded(private_redis: RedisProcess) -> None:
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, auto_cleanup=False,
                       health_max_memory_ratio=1e-6)
    report = mesh.health()
    assert report.maxmemory == 64 * 1024 * 1024
    assert report.status == "degraded"
    assert any("maxmemory" in p for p in report.problems)
    assert any("quota" in s for s in report.suggestions)


def test_slow_round_trip_is_degraded(mesh_factory: Callable[..., ContextMesh]) -> None:
    report = mesh_factory(health_max_latency_ms=1e-9).health()
    assert report.status == "degraded"
    assert any("round trip" in p for p in report.problems)


def test_snapshot_lag_is_reported_with_a_db_backend(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path
) -> None:
    mesh = mesh_factory(db_backend="sqlite", db_path=str(tmp_path / "snap.db"))
    mesh.push("a", 1)
    assert mesh.db_backend.flush(timeout=10)
    report = mesh.health()
    assert report.snapshot_lag_seconds == 0.0
    assert report.status == "healthy"


def test_no_snapshot_lag_without_a_db_backend(mesh: ContextMesh) -> None:
    assert mesh.health().snapshot_lag_seconds is None


def test_async_mesh_reports_the_same(redis_url: str | None, key_prefix: str,
                                     dead_url: str) -> None:
    async def main() -> tuple[str, int | None, str]:
        mesh = AsyncContextMesh(user_id="u", redis_url=redis_url, key_prefix=key_prefix,
                                auto_cleanup=False)
        await mesh.push("a", 1)
        report = await mesh.health()
        dead = AsyncContextMesh(user_id="u", redis_url=dead_url, auto_cleanup=False)
        dead_report = await dead.health()
        await mesh.close()
        await dead.close()
        return report.status, report.stream_length, dead_report.status

    assert asyncio.run(main()) == ("healthy", 1, "unhealthy")
