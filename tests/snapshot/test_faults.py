"""Faults on real servers: Redis killed, Postgres away, a snapshotter killed mid-batch.

The measured figures (lag, loss, rows/s) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from syntha_redis import ContextMesh
from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaError
from syntha_redis.snapshot import PoolSizes, PostgresDB, SnapshotDB, Snapshotter, verify_user
from tests.snapshot.proxy import Proxy
from tests.support.servers import RedisProcess

pytestmark = pytest.mark.slow

Acked = dict[str, tuple[int, int, float | None]]  # key -> (value, version, expires_at)


def _push_until_killed(mesh: ContextMesh, server: RedisProcess, seconds: float,
                       rate: float | None = None) -> Acked:
    """Push from two threads, kill -9 the server after ``seconds``; what was acknowledged."""
    acked: Acked = {}
    lock = threading.Lock()

    def pusher(n: int) -> None:
        for i in range(1_000_000):
            key = f"t{n}-{i}"
            ttl = None if i % 3 == 0 else 60 + i % 600
            try:
                version = mesh.push(key, i, topics=["t"], ttl=ttl)
            except SynthaError:
                return  # Redis is gone: this push was not acknowledged
            item_expiry = None if ttl is None else time.time() + ttl
            with lock:
                acked[key] = (i, version, item_expiry)
            if rate:
                time.sleep(2 / rate)

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    server.kill()
    for t in threads:
        t.join(timeout=30)
    return acked


def _mesh(url: str, prefix: str, dsn: str, durability: str) -> ContextMesh:
    return ContextMesh(user_id="u", db_backend="postgresql", connection_string=dsn,
                       redis_url=url, key_prefix=prefix, durability=durability, retries=0,
                       socket_timeout=2)


def test_sync_pushes_survive_kill_9(pg_dsn: str, prefix: str) -> None:
    server = RedisProcess().start()
    mesh = _mesh(server.url, prefix, pg_dsn, "sync")
    acked = _push_until_killed(mesh, server, seconds=1.5)
    mesh.close()
    server.stop()
    fresh = RedisProcess().start()
    try:
        restored = _mesh(fresh.url, prefix, pg_dsn, "sync")  # restores "u": Redis is empty
        client = redis.Redis.from_url(fresh.url)
        missing, wrong = [], []
        for key, (value, version, expires_at) in acked.items():
            item = restored.get_item(key)
            if item is None:
                missing.append(key)
                continue
            ttl_ok = (item.expires_at is None) if expires_at is None else (
                abs(item.expires_at - expires_at) < 1.0
                and abs(client.pttl(restored.operations.keys.item(key)) / 1000
                        - (expires_at - time.time())) < 1.0)
            if (item.value, item.version) != (value, version) or not ttl_ok:
                wrong.append(key)
        print(f"\nsync kill -9: {len(acked)} pushes acknowledged, {len(missing)} missing, "
              f"{len(wrong)} different after restore")
        assert len(acked) > 100 and not missing and not wrong
        restored.close()
    finally:
        fresh.stop()


def test_async_loss_is_bounded_by_the_lag(pg_dsn: str, prefix: str) -> None:
    server = RedisProcess().start()
    mesh = _mesh(server.url, prefix, pg_dsn, "async")
    rate = 400.0
    lags: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            try:
                lags.append(mesh.db_backend.lag_seconds())
            except SynthaError:
                return

    sampler = threading.Thread(target=sample)
    sampler.start()
    acked = _push_until_killed(mesh, server, seconds=2.0, rate=rate)
    stop.set()
    sampler.join()
    mesh.close()
    server.stop()
    db = PostgresDB(pg_dsn)
    try:
        saved = {row.key for row in db.items("u")}
    finally:
        db.close()
    lost = len(set(acked) - saved)
    worst = max(lags, default=0.0)
    mean = sum(lags) / len(lags) if lags else 0.0
    print(f"\nasync at ~{rate:.0f} pushes/s: lag mean {mean * 1000:.0f} ms, "
          f"max {worst * 1000:.0f} ms; kill -9 lost {lost} of {len(acked)} acknowledged")
    # the snapshot is at most one poll + one batch behind: loss <= rate x worst lag + slack
    assert lost <= rate * (worst + 0.25) + 10


def test_postgres_outage_loses_no_stream_entries(
    pg_dsn: str, settings: Settings, prefix: str
) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(pg_dsn)
    proxy = Proxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
    via_proxy = make_conninfo(pg_dsn, host="127.0.0.1", port=proxy.port)
    db = PostgresDB(via_proxy, pool=PoolSizes(1, 0, pool_timeout=2))
    db.migrate()
    snap = Snapshotter(settings, db)
    mesh = ContextMesh(user_id="u", settings=settings)
    try:
        versions = {f"k{i}": mesh.push(f"k{i}", i) for i in range(50)}
        snap.drain()
        proxy.down()
        versions |= {f"k{i}": mesh.push(f"k{i}", i) for i in range(50, 100)}
        with pytest.raises(SynthaError):
            snap.run_once()
        stream = mesh.operations.keys.stream
        assert snap.client.xpending(stream, snap.group)["pending"] == 50
        proxy.up()
        deadline = time.monotonic() + 20
        while snap.lag(["u"]).entries and time.monotonic() < deadline:
            try:
                snap.run_once()
            except SynthaError:
                time.sleep(0.1)  # the pool replaces the connections the outage broke
        assert snap.client.xpending(stream, snap.group)["pending"] == 0
        assert {r.key: r.version for r in db.items("u")} == versions
    finally:
        db.close()
        proxy.close()


def test_crash_between_commit_and_ack_duplicates_nothing(
    settings: Settings, snapdb: SnapshotDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh = ContextMesh(user_id="u", settings=settings)
    for i in range(30):
        mesh.push(f"k{i % 10}", i)
    first = Snapshotter(settings, snapdb, consumer="dies")

    def crash(entries: Any) -> None:
        raise SystemExit("killed after commit, before XACK")

    monkeypatch.setattr(first, "_ack", crash)
    with pytest.raises(SystemExit):
        first.run_once()
    second = Snapshotter(settings, snapdb, consumer="takes-over", claim_idle_ms=0)
    assert second.drain() == 30  # every entry the first one read, taken over
    assert verify_user(settings, snapdb, "u").differences == []
    assert len(snapdb.items("u")) == 10


def test_snapshotter_killed_mid_run_loses_and_duplicates_nothing(
    pg_dsn: str, settings: Settings
) -> None:
    users = [f"user{n}" for n in range(4)]
    meshes = [ContextMesh(user_id=u, settings=settings) for u in users]
    for i in range(1500):
        meshes[i % 4].push(f"k{i % 500}", i)
    worker = subprocess.Popen(
        [sys.executable, "-m", "syntha_redis.cli", "snapshot", "run", "--dsn", pg_dsn,
         "--redis-url", str(settings.redis_url), "--key-prefix", settings.key_prefix,
         "--batch-size", "50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    db = PostgresDB(pg_dsn)
    try:
        db.migrate()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(db.items(u) for u in users):
            time.sleep(0.01)
        worker.kill()  # SIGKILL, mid-run
        worker.wait()
        Snapshotter(settings, db, claim_idle_ms=0).drain()
        for user in users:
            assert verify_user(settings, db, user).differences == []
            assert len(db.items(user)) == len({f"k{i % 500}" for i in range(1500)
                                               if users[i % 4] == user})
    finally:
        db.close()


def test_snapshotter_throughput(pg_dsn: str, settings: Settings) -> None:
    users, per_user = 20, 1000
    meshes = [ContextMesh(user_id=f"u{n}", settings=settings) for n in range(users)]
    value = {"deal": "acme", "amount": 125000, "notes": "x" * 300}

    def fill(mesh: ContextMesh) -> None:
        for i in range(per_user):
            mesh.push(f"item-{i}", value, topics=["sales"], ttl=3600)

    db = PostgresDB(pg_dsn)
    db.migrate()
    try:
        snap = Snapshotter(settings, db, batch_size=1000)
        for mesh in meshes:  # steady state: consumer groups exist (no first full capture)
            mesh.push("first", 0)
        snap.drain()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fill, meshes))
        start = time.perf_counter()
        events = snap.drain(timeout=120)
        elapsed = time.perf_counter() - start
        rows = sum(len(db.items(f"u{n}")) for n in range(users))
    finally:
        db.close()
    print(f"\nsnapshotter: {events} events -> {rows} rows in {elapsed:.2f}s = "
          f"{events / elapsed:,.0f} rows/s")
    assert rows == users * (per_user + 1)
