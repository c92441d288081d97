"""A fleet that outlives its Redis: every acknowledged write is counted, in Redis and Postgres.

A writer process pushes k0..k299 (retrying each until acknowledged), a reader
process reads acknowledged keys at random, and a standalone snapshot worker
(``syntha-redis snapshot run``) captures, all alive while the test kills the
private redis-server with SIGKILL after the 100th acknowledgement and brings
it back. Nobody restarts a worker. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from syntha_redis import ContextMesh
from syntha_redis.snapshot import PostgresDB
from tests.durability import fleet
from tests.snapshot.proxy import Proxy
from tests.support.servers import RedisProcess

pytestmark = pytest.mark.slow

SPAWN = mp.get_context("spawn")
KEYS = 300
CRASH_AT = 100


class Fleet:
    """The processes of one test, and the files they report through."""

    def __init__(self, tmp: Path, url: str, prefix: str, dsn: str, durability: str) -> None:
        self.tmp, self.url, self.prefix, self.dsn = tmp, url, prefix, dsn
        self.durability = durability
        self.acks, self.stop = str(tmp / "acks"), str(tmp / "stop")
        self.reads = str(tmp / "reads")
        self.procs: list[Any] = []
        self.snapshotter: subprocess.Popen[bytes] | None = None

    def start(self, pace: float = 0.003) -> None:
        args = (self.url, self.prefix, self.dsn, self.durability)
        writer = SPAWN.Process(target=fleet.write, args=(*args, range(KEYS), self.acks, pace))
        reader = SPAWN.Process(target=fleet.read, args=(*args, self.acks, self.reads, self.stop))
        self.procs = [writer, reader]
        for p in self.procs:
            p.start()
        self.snapshotter = subprocess.Popen(
            [sys.executable, "-m", "syntha_redis.cli", "snapshot", "run", "--dsn", self.dsn,
             "--redis-url", self.url, "--key-prefix", self.prefix],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def acked(self) -> dict[str, int]:
        return fleet.acked_keys(self.acks)

    def wait_for_acks(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked()) < count:
            assert time.monotonic() < deadline, f"only {len(self.acked())} acknowledgements"
            assert self.procs[0].exitcode in (None, 0), "the writer died"
            time.sleep(0.005)

    def finish(self, timeout: float = 120) -> dict[str, Any]:
        """Wait for the writer, then stop the reader and the snapshotter; the reader's report."""
        self.procs[0].join(timeout)
        assert self.procs[0].exitcode == 0, "the writer did not finish"
        Path(self.stop).touch()
        self.procs[1].join(30)
        if self.snapshotter is not None:
            assert self.snapshotter.poll() is None, "the snapshot worker died"
            self.snapshotter.terminate()
            self.snapshotter.wait(10)
        return fleet.reader_report(self.reads)

    def kill(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.kill()
        if self.snapshotter is not None and self.snapshotter.poll() is None:
            self.snapshotter.kill()


@pytest.fixture
def make_fleet(tmp_path: Path, prefix: str) -> Iterator[Callable[..., Fleet]]:
    made: list[Fleet] = []

    def make(url: str, dsn: str, durability: str) -> Fleet:
        f = Fleet(tmp_path, url, prefix, dsn, durability)
        made.append(f)
        return f

    yield make
    for f in made:
        f.kill()


def snapshot_keys(dsn: str) -> set[str]:
    db = PostgresDB(dsn)
    try:
        return {row.key for row in db.items("u")}
    finally:
        db.close()


def unreadable(url: str, prefix: str, dsn: str, durability: str, wanted: set[str]) -> list[str]:
    """Keys of ``wanted`` a fresh mesh (same arguments) cannot read, and checks that
    its snapshot lists every one of them."""
    mesh = fleet.open_mesh(url, prefix, dsn, durability)
    try:
        missing = sorted(wanted - set(mesh.get_many(wanted)))
        assert mesh.db_backend.flush(timeout=30)
        in_snapshot = set(mesh.db_backend.get_all_context_items())
        assert wanted <= in_snapshot, f"{len(wanted - in_snapshot)} missing in Postgres"
        return missing
    finally:
        mesh.close()


def restart_empty(server: RedisProcess, after: float = 1.0) -> RedisProcess:
    server.kill()
    time.sleep(after)
    return RedisProcess(port=server.port).start()


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_acknowledged_writes_survive_kill_9_and_an_empty_restart(
    durability: str, make_fleet: Callable[..., Fleet], pg_dsn: str, prefix: str
) -> None:
    server = RedisProcess().start()
    f = make_fleet(server.url, pg_dsn, durability)
    try:
        f.start()
        f.wait_for_acks(CRASH_AT)
        confirmed = snapshot_keys(pg_dsn)  # what the snapshot had before the crash
        server.kill()
        time.sleep(0.1)  # a reply that arrived just before the kill is written down
        before = set(f.acked())  # after the kill: no acknowledgement can come in between
        server = restart_empty(server)
        report = f.finish()
        acked = f.acked()
        assert len(acked) == KEYS
        after = set(acked) - before
        wanted = set(acked) if durability == "sync" else (confirmed & set(acked)) | after
        missing = unreadable(server.url, prefix, pg_dsn, durability, wanted)
        print(f"\n{durability}: acknowledged {len(acked)}, {len(before)} before the crash, "
              f"snapshot had {len(confirmed)}; expected back {len(wanted)}, missing "
              f"{len(missing)}; reader: {report['ok']} reads, {report['errors']} errors, "
              f"{report['misses']} misses")
        assert missing == []
        if durability == "sync":
            assert report["misses"] == 0, report["missed"][:10]
            assert len(wanted) == KEYS
    finally:
        server.stop()


def test_redis_coming_back_with_its_data_needs_no_restore(
    make_fleet: Callable[..., Fleet], pg_dsn: str, prefix: str
) -> None:
    aof = ("--appendonly", "yes", "--appendfsync", "always")
    server = RedisProcess(extra=aof).start()
    f = make_fleet(server.url, pg_dsn, "sync")
    try:
        f.start()
        f.wait_for_acks(CRASH_AT)
        server.kill()
        time.sleep(1.0)
        server = RedisProcess(port=server.port, extra=aof, workdir=server.workdir).start()
        report = f.finish()
        acked = f.acked()
        raw = redis.Redis.from_url(server.url)
        epoch = raw.get(next(raw.scan_iter(match=f"{prefix}:{{u:u}}:epoch:*")))
        missing = unreadable(server.url, prefix, pg_dsn, "sync", set(acked))
        print(f"\nAOF: acknowledged {len(acked)}, missing {len(missing)}, epoch {epoch!r}; "
              f"reader: {report['ok']} reads, {report['errors']} errors, "
              f"{report['misses']} misses")
        assert len(acked) == KEYS and missing == [] and report["misses"] == 0
        assert epoch is not None and epoch.startswith(b"restored 0 rows")  # the first one only
    finally:
        server.stop()


def test_an_operators_flushdb_is_repaired_from_the_snapshot(
    make_fleet: Callable[..., Fleet], pg_dsn: str, prefix: str
) -> None:
    """FLUSHDB cannot be told from an empty restart, so it is a loss to repair;
    ``clear()`` is how a user's context is wiped."""
    server = RedisProcess().start()
    f = make_fleet(server.url, pg_dsn, "sync")
    try:
        f.start()
        f.wait_for_acks(CRASH_AT)
        redis.Redis.from_url(server.url).flushdb()
        report = f.finish()
        acked = f.acked()
        missing = unreadable(server.url, prefix, pg_dsn, "sync", set(acked))
        print(f"\nFLUSHDB: acknowledged {len(acked)}, missing {len(missing)}; reader: "
              f"{report['ok']} reads, {report['misses']} misses")
        assert len(acked) == KEYS and missing == [] and report["misses"] == 0
    finally:
        server.stop()


def test_postgres_down_during_the_crash_delays_writes_and_loses_none(
    make_fleet: Callable[..., Fleet], pg_dsn: str, prefix: str
) -> None:
    """While the snapshot is unreachable a lost keyspace cannot be restored: calls
    fail (nothing is acknowledged) until Postgres is back, then go on."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(pg_dsn)
    proxy = Proxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
    via_proxy = make_conninfo(pg_dsn, host="127.0.0.1", port=proxy.port)
    server = RedisProcess().start()
    f = make_fleet(server.url, via_proxy, "sync")
    try:
        f.start()
        f.wait_for_acks(CRASH_AT)
        proxy.down()
        server = restart_empty(server)
        stalled = len(f.acked())
        time.sleep(1.0)
        acked_while_down = len(f.acked()) - stalled
        proxy.up()
        report = f.finish()
        acked = f.acked()
        # the same address as the fleet's: one snapshot database per user, and a
        # database is known by its address (restore.claim_user)
        missing = unreadable(server.url, prefix, via_proxy, "sync", set(acked))
        print(f"\nPostgres down: {acked_while_down} acknowledged while it was down, "
              f"{len(acked)} in all, missing {len(missing)}; reader: {report['ok']} reads, "
              f"{report['errors']} errors, {report['misses']} misses")
        assert acked_while_down <= 1  # at most one write in flight when the proxy went down
        assert len(acked) == KEYS and missing == [] and report["misses"] == 0
    finally:
        proxy.close()
        server.stop()


def test_concurrent_workers_restore_a_lost_keyspace_exactly_once(
    pg_dsn: str, prefix: str
) -> None:
    server = RedisProcess().start()
    meshes: list[ContextMesh] = []
    try:
        first = fleet.open_mesh(server.url, prefix, pg_dsn, "sync")
        meshes.append(first)
        first.push_many([{"key": f"k{i}", "value": i} for i in range(500)])
        redis.Redis.from_url(server.url).flushdb()
        meshes += [fleet.open_mesh(server.url, prefix, pg_dsn, "sync") for _ in range(7)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            sizes = list(pool.map(lambda m: m.size(), meshes))
        assert sizes == [500] * 8
        assert sum(m.db_backend.guard.restores for m in meshes) == 2  # first push, then one
    finally:
        for m in meshes:
            m.close()
        server.stop()
