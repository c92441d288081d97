"""Mesh-wide gauges: what the whole mesh holds, read from Redis, whoever wrote it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syntha_redis import ContextMesh
from syntha_redis.core import keys
from syntha_redis.core.config import Settings
from syntha_redis.core.store import Store
from syntha_redis.ops.fleet_metrics import FleetMetrics, FleetReading, read_fleet
from syntha_redis.ops.http import ProbeServer, start_http_server
from syntha_redis.snapshot import Snapshotter, SqliteDB
from tests.conftest import delete_prefix
from tests.support.servers import free_port

CLI = str(Path(sys.executable).parent / "syntha-redis")


def settings_of(url: str | None, prefix: str) -> Settings:
    return Settings(redis_url=url, key_prefix=prefix)


def series(text: str) -> dict[str, float]:
    """``{name: value}`` of the unlabelled-or-prefix-labelled samples in ``text``."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name.split("{", 1)[0]] = float(value)
    return found


@pytest.fixture
def probes() -> Iterator[Callable[..., ProbeServer]]:
    started: list[ProbeServer] = []

    def start(settings: Settings, mesh_metrics: bool) -> ProbeServer:
        started.append(start_http_server(settings, 0, "127.0.0.1", mesh_metrics=mesh_metrics))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture
def machine_prefix(machine_url: str) -> Iterator[str]:
    """A prefix of this test on the machine's Redis, which other processes share."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(machine_url, prefix)


def scrape(server: ProbeServer) -> str:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as reply:
        return str(reply.read().decode())


def test_gauges_count_users_items_bytes_and_events(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str
) -> None:
    alice, bob = mesh_factory("alice"), mesh_factory("bob")
    alice.push("a", "x" * 10)
    alice.push("b", "y" * 10)
    bob.push("c", "z" * 10)
    alice.remove("b")
    reading = read_fleet(Store(settings_of(redis_url, key_prefix)))
    assert (reading.up, reading.users, reading.items) == (True, 2, 2)
    assert reading.bytes == alice.get_stats()["total_bytes"] + bob.get_stats()["total_bytes"]
    assert reading.stream_events == 4  # three pushes and a deletion


def test_an_empty_mesh_reads_as_zeros(redis_url: str | None, key_prefix: str) -> None:
    reading = read_fleet(Store(settings_of(redis_url, key_prefix)))
    assert (reading.users, reading.items, reading.bytes, reading.stream_events) == (0, 0, 0, 0)
    assert reading.snapshot_lag_seconds is None and reading.snapshot_pending is None


def test_expired_items_not_yet_swept_are_the_sweeper_backlog(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str
) -> None:
    mesh = mesh_factory(auto_cleanup=False)
    mesh.push("short", 1, ttl=0.05)
    mesh.push("long", 2)
    store = Store(settings_of(redis_url, key_prefix))
    deadline = time.monotonic() + 5
    while read_fleet(store).sweeper_backlog == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    reading = read_fleet(store)
    assert (reading.sweeper_backlog, reading.items) == (1, 1)
    # bytes still hold the expired item until it is pruned, and its help says so
    held = reading.bytes
    assert "including items past their expiry not yet pruned" in reading.render(key_prefix)
    assert mesh.cleanup_expired() == 1
    assert read_fleet(store).sweeper_backlog == 0
    assert 0 < read_fleet(store).bytes < held


def test_snapshot_lag_appears_once_a_snapshotter_runs_and_is_zero_when_caught_up(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str,
    tmp_path: Path,
) -> None:
    settings = settings_of(redis_url, key_prefix)
    store = Store(settings)
    mesh_factory("alice").push("a", 1)
    assert read_fleet(store).snapshot_lag_seconds is None  # nobody snapshots: no figure
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    snapshotter = Snapshotter(settings, db)  # what `syntha-redis snapshot run` runs
    snapshotter.drain(timeout=10)
    assert read_fleet(store).snapshot_lag_seconds == 0.0
    mesh_factory("bob").push("b", 2)
    deadline = time.monotonic() + 5
    while not read_fleet(store).snapshot_lag_seconds and time.monotonic() < deadline:
        time.sleep(0.01)  # the lag is an age: it grows while bob's event waits
    assert (read_fleet(store).snapshot_lag_seconds or 0) > 0
    snapshotter.drain(timeout=10)
    caught_up = read_fleet(store)
    db.close()
    assert (caught_up.snapshot_lag_seconds, caught_up.snapshot_pending) == (0.0, 0)


def test_unreachable_redis_is_mesh_up_0_and_no_made_up_figures(dead_url: str) -> None:
    text = FleetMetrics(Store(Settings(redis_url=dead_url, retries=0))).exposition()
    found = series(text)
    assert found["syntha_redis_mesh_up"] == 0
    assert "syntha_redis_mesh_items" not in found


def test_a_reading_is_reused_for_max_age(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str
) -> None:
    fleet = FleetMetrics(Store(settings_of(redis_url, key_prefix)), max_age=60)
    first = fleet.reading()
    mesh_factory().push("a", 1)
    assert fleet.reading() is first
    fleet.max_age = 0
    assert fleet.reading().items == 1


def test_render_labels_every_series_with_the_prefix() -> None:
    text = FleetReading(users=3, items=7, snapshot_lag_seconds=1.5).render("prod")
    assert 'syntha_redis_mesh_users{prefix="prod"} 3' in text
    assert 'syntha_redis_mesh_snapshot_lag_seconds{prefix="prod"} 1.5' in text
    assert "# TYPE syntha_redis_mesh_items gauge" in text


def test_serve_shows_pushes_of_two_other_processes_without_metrics_enabled(
    machine_url: str, machine_prefix: str, probes: Callable[..., ProbeServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SYNTHA_METRICS_ENABLED", raising=False)
    for user in ("alice", "bob"):
        subprocess.run([CLI, "push", "deal", '{"amount": 5}', "--topic", "sales", "--user", user,
                        "--redis-url", machine_url, "--prefix", machine_prefix],
                       check=True, capture_output=True, timeout=60)
    found = series(scrape(probes(settings_of(machine_url, machine_prefix), mesh_metrics=True)))
    assert found["syntha_redis_mesh_up"] == 1
    assert (found["syntha_redis_mesh_users"], found["syntha_redis_mesh_items"]) == (2, 2)
    assert found["syntha_redis_mesh_stream_events"] == 2


def test_a_worker_endpoint_has_its_own_counters_and_no_mesh_gauges(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str,
    probes: Callable[..., ProbeServer],
) -> None:
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, metrics_enabled=True)
    mesh_factory(metrics_enabled=True).push("a", 1)
    text = scrape(probes(settings, mesh_metrics=False))
    assert 'syntha_redis_operations_total{operation="push",outcome="ok"}' in text
    assert "syntha_redis_mesh_" not in text


def test_serve_command_turns_mesh_gauges_on(machine_url: str, machine_prefix: str) -> None:
    port = free_port()
    proc = subprocess.Popen([CLI, "serve", "--port", str(port), "--host", "127.0.0.1",
                             "--redis-url", machine_url, "--prefix", machine_prefix],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "serving" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert f'syntha_redis_mesh_up{{prefix="{machine_prefix}"}} 1' in text


def test_events_a_snapshotter_read_and_never_acknowledged_are_pending(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str,
    raw: Any, tmp_path: Path,
) -> None:
    settings = settings_of(redis_url, key_prefix)
    mesh_factory("alice").push("a", 1)
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    Snapshotter(settings, db).drain(timeout=10)
    db.close()
    mesh_factory("alice").push("b", 2)
    mesh_factory("alice").push("c", 3)
    stream = keys.UserKeys(key_prefix, "alice").stream
    # a snapshotter that reads and dies before it commits
    raw.xreadgroup(db.capture_group, "dead-consumer", {stream: ">"})
    reading = read_fleet(Store(settings))
    assert reading.snapshot_pending == 2
    assert reading.snapshot_lag_seconds is not None


@pytest.fixture
def cluster_settings(cluster_url: str) -> Iterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield Settings(redis_url=cluster_url, key_prefix=prefix)
    delete_prefix(cluster_url, prefix)


def test_gauges_read_every_users_slot_on_a_cluster(
    cluster_settings: Settings, tmp_path: Path
) -> None:
    users = ["alice", "bob{x}", "carol*", "dave"]  # spread over the nodes' slots
    for i, user in enumerate(users):
        mesh = ContextMesh(user_id=user, settings=cluster_settings, auto_cleanup=False)
        mesh.push("k", i)
        mesh.close()
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    Snapshotter(cluster_settings, db).drain(timeout=20)
    db.close()
    reading = read_fleet(Store(cluster_settings))
    assert (reading.users, reading.items, reading.stream_events) == (4, 4, 4)
    assert (reading.snapshot_lag_seconds, reading.snapshot_pending) == (0.0, 0)
