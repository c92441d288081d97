"""Nothing is lost silently: the issue-18 reproductions, scaled down.

A low ``stream_max_length`` makes a burst beyond the stream's cap cheap: the
hard cap (``HARD_CAP`` times the max length, lua/_prelude.lua) is then a few
hundred entries. The full-size figures come from ``make soak``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from syntha_redis import ContextMesh
from syntha_redis.core.codec import decode_value
from syntha_redis.core.config import Settings
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaConflictError,
    SynthaConnectionError,
    SynthaError,
)
from syntha_redis.snapshot import Batch, SnapshotDB, Snapshotter, SqliteDB, verify_user
from tests.snapshot.proxy import Proxy
from tests.support.servers import RedisProcess

CAP = 20  # stream_max_length: the hard cap is 200 entries


def _live(db: SnapshotDB, user: str = "u") -> dict[str, object]:
    return {row.key: decode_value(row.value or b"") for row in db.items(user)}


def _burst(mesh: ContextMesh, count: int, start: int = 0, topic: str = "t") -> None:
    for first in range(start, start + count, 100):
        mesh.push_many([{"key": f"k{i}", "value": i, "topics": [topic]}
                        for i in range(first, min(first + 100, start + count))])


@pytest.fixture
def capped(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_max_length": CAP})


def test_a_burst_beyond_the_hard_cap_is_captured_in_full(
    capped: Settings, snapdb: SnapshotDB
) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("first", 0)
    snap = Snapshotter(capped, snapdb)
    snap.drain()  # the capture group exists, as in the issue
    _burst(mesh, 1_000)
    lag = snap.lag(["u"])
    assert lag.gaps == ("u",) and lag.entries > 0 and lag.seconds > 0
    snap.drain()
    assert snap.recaptures >= 2  # the group's first sight, and the gap
    assert len(_live(snapdb)) == 1_001
    assert verify_user(capped, snapdb, "u").differences == []
    assert snap.lag(["u"]).entries == 0


def test_a_burst_within_the_hard_cap_is_never_trimmed_before_capture(
    capped: Settings, snapdb: SnapshotDB
) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("first", 0)
    snap = Snapshotter(capped, snapdb)
    snap.drain()
    _burst(mesh, 150)  # 7.5 times the max length: trimmed by length without a snapshot
    assert snap.lag(["u"]).entries == 150
    snap.drain()
    assert snap.recaptures == 1 and len(_live(snapdb)) == 151


def test_without_a_snapshot_the_stream_keeps_its_length_cap(capped: Settings) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    _burst(mesh, 500)
    raw = redis.Redis.from_url(capped.redis_url or "")
    # MAXLEN ~ trims whole nodes (100 entries)
    assert raw.xlen(mesh.operations.keys.stream) <= CAP + 100


def test_a_big_delete_topic_stays_deleted_after_a_gap(
    capped: Settings, snapdb: SnapshotDB
) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    _burst(mesh, 300, topic="T")
    mesh.push("other", 1, topics=["O"])
    snap = Snapshotter(capped, snapdb)
    snap.drain()
    assert len(_live(snapdb)) == 301
    assert mesh.delete_topic("T") == 300  # 301 events: beyond the hard cap
    snap.drain()
    assert _live(snapdb) == {"other": 1}


def test_a_removal_survives_an_operators_xtrim_before_capture(
    capped: Settings, snapdb: SnapshotDB
) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("x", 1)
    mesh.push("y", 2)
    snap = Snapshotter(capped, snapdb)
    snap.drain()
    mesh.remove("x")
    redis.Redis.from_url(capped.redis_url or "").xtrim(mesh.operations.keys.stream, maxlen=0)
    assert snap.lag(["u"]).gaps == ("u",)
    snap.drain()
    assert _live(snapdb) == {"y": 2}


def test_a_clear_survives_a_gap(capped: Settings, snapdb: SnapshotDB) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("x", 1)
    snap = Snapshotter(capped, snapdb)
    snap.drain()
    mesh.clear()
    mesh.push("after", 2)
    redis.Redis.from_url(capped.redis_url or "").xtrim(mesh.operations.keys.stream, maxlen=0)
    snap.drain()
    assert _live(snapdb) == {"after": 2}


def test_a_capture_that_fails_says_why_and_goes_on(capped: Settings, snapdb: SnapshotDB) -> None:
    calls = []

    def users() -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("'ConnectionError' object is not iterable")
        return ["u"]

    snap = Snapshotter(capped, snapdb, users=users)
    problems: list[str | None] = []

    def sleep(_: float) -> None:
        problems.append(snap.problem)

    snap.run(stop=lambda: len(calls) >= 3, sleep=sleep)
    assert problems[0] is not None and "not iterable" in problems[0]
    assert snap.problem is None  # the next pass succeeded


# -- meshes with a snapshot database: restarts, versions, one system of record -------


def _sqlite_mesh(url: str, prefix: str, path: Path, durability: str = "async",
                 **options: object) -> ContextMesh:
    return ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, db_backend="sqlite",
                       db_path=str(path), durability=durability, retries=0,
                       socket_timeout=1, stream_max_length=CAP, **options)


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_a_big_delete_topic_stays_deleted_after_an_empty_restart(
    private_redis: RedisProcess, prefix: str, tmp_path: Path, durability: str
) -> None:
    mesh = _sqlite_mesh(private_redis.url, prefix, tmp_path / "s.db", durability)
    _burst(mesh, 300, topic="T")
    mesh.push("kept", 1)
    assert mesh.db_backend.flush(timeout=10)
    assert mesh.delete_topic("T") == 300
    if durability == "async":
        assert mesh.db_backend.flush(timeout=10)
    mesh.close()
    private_redis.kill()
    private_redis.start()  # empty
    again = _sqlite_mesh(private_redis.url, prefix, tmp_path / "s.db", durability)
    try:
        assert again.size() == 1 and again.get("kept") == 1
    finally:
        again.close()


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_a_version_from_before_an_empty_restart_is_refused(
    private_redis: RedisProcess, prefix: str, tmp_path: Path, durability: str
) -> None:
    mesh = _sqlite_mesh(private_redis.url, prefix, tmp_path / "s.db", durability)
    v1 = mesh.push("x", "one")
    assert mesh.db_backend.flush(timeout=10)
    v2 = mesh.push("x", "two")  # in async mode, maybe never captured
    private_redis.kill()
    private_redis.start()
    other = _sqlite_mesh(private_redis.url, prefix, tmp_path / "s.db", durability)
    try:
        v3 = other.push("x", "three")
        assert v3 > v2 > v1
        with pytest.raises(SynthaConflictError):
            other.push("x", "four", expected_version=v2)
        assert other.get("x") == "three"
    finally:
        mesh.close()
        other.close()


def test_a_second_snapshot_database_for_a_user_is_refused(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    first = _sqlite_mesh(private_redis.url, prefix, tmp_path / "a.db", "sync")
    try:
        first.push("c", 1)
        with pytest.raises(SynthaConfigurationError, match="already keeps its snapshot"):
            _sqlite_mesh(private_redis.url, prefix, tmp_path / "b.db")
    finally:
        first.close()


def _written_then_lost(server: RedisProcess, prefix: str, db: Path) -> ContextMesh:
    """A sync mesh of database ``db`` that pushed a and c and removed a; then its
    Redis restarted empty."""
    mesh = _sqlite_mesh(server.url, prefix, db, "sync")
    mesh.push("a", 1)
    mesh.push("c", 3)
    mesh.remove("a")
    server.kill()
    server.start()
    return mesh


def test_after_an_empty_restart_the_first_restore_claims_the_user(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    m1 = _written_then_lost(private_redis, prefix, tmp_path / "a.db")
    assert (m1.size(), m1.get("c")) == (1, 3)  # m1's database restored first: it holds the user
    with pytest.raises(SynthaConfigurationError):
        _sqlite_mesh(private_redis.url, prefix, tmp_path / "b.db")
    m1.close()


def test_a_mesh_of_another_database_never_acts_on_a_keyspace_it_did_not_restore(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    m1 = _written_then_lost(private_redis, prefix, tmp_path / "a.db")
    m2 = _sqlite_mesh(private_redis.url, prefix, tmp_path / "b.db", "sync")
    m2.push("b", 2)  # the other database restored first: it holds the user now
    with pytest.raises(SynthaConfigurationError):
        m1.size()  # refused, not an empty mesh that lost "c"
    assert (m2.size(), m2.get("b")) == (1, 2)
    m1.close()
    m2.close()


def _user_without(server: RedisProcess, *denied: str) -> str:
    """The URL of a Redis user of ``server`` that may run every command but ``denied``."""
    redis.Redis.from_url(server.url).acl_setuser(
        "tenant", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", *denied])
    return f"redis://tenant:pw@127.0.0.1:{server.port}/0"


def test_health_says_why_a_capture_cannot_run(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    url = _user_without(private_redis, "-xreadgroup", "-xinfo")
    mesh = _sqlite_mesh(url, prefix, tmp_path / "s.db", "async")
    try:
        mesh.push("x", 1)
        deadline = time.monotonic() + 10
        report = mesh.health()
        while report.status != "degraded" and time.monotonic() < deadline:
            time.sleep(0.05)
            report = mesh.health()
        assert report.status == "degraded"
        assert any("NOPERM" in p or "permission" in p.lower() for p in report.problems)
    finally:
        mesh.close()


def test_a_sync_delete_topic_that_cannot_be_captured_raises(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    url = _user_without(private_redis, "-xreadgroup")
    mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, db_backend="sqlite",
                       db_path=str(tmp_path / "s.db"), durability="sync", retries=0,
                       socket_timeout=0.3)
    try:
        _burst(mesh, 50, topic="T")
        with pytest.raises(SynthaError):
            mesh.delete_topic("T")
    finally:
        mesh.close()


def test_an_async_mesh_starts_with_postgres_down_and_catches_up(
    private_redis: RedisProcess, prefix: str, pg_dsn: str
) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(pg_dsn)
    proxy = Proxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432)))
    dsn = make_conninfo(pg_dsn, host="127.0.0.1", port=proxy.port)

    def mesh() -> ContextMesh:
        return ContextMesh(user_id="u", redis_url=private_redis.url, key_prefix=prefix,
                           db_backend="postgresql", connection_string=dsn,
                           db_connect_timeout=1, retries=0, socket_timeout=1)

    first = mesh()
    first.push("x", 0)  # the user's keyspace exists (its epoch marker is set)
    first.close()
    from syntha_redis import persistence

    persistence._databases.clear()  # a new process: no pool open yet
    proxy.down()
    started = time.monotonic()
    m = mesh()
    try:
        assert time.monotonic() - started < 3
        m.push("x", 1)
        assert m.health().status == "degraded"
        proxy.up()
        assert m.db_backend.flush(timeout=30)
        assert [(r.key, decode_value(r.value or b"")) for r in m.db_backend.db.items("u")] \
            == [("x", 1)]
        assert m.health().status == "healthy"
    finally:
        m.close()


def test_a_sync_mesh_fails_at_start_within_the_connect_timeout(
    private_redis: RedisProcess, prefix: str
) -> None:
    started = time.monotonic()
    with pytest.raises(SynthaConnectionError):
        ContextMesh(user_id="u", redis_url=private_redis.url, key_prefix=prefix,
                    db_backend="postgresql", durability="sync", db_connect_timeout=1,
                    connection_string="postgresql://127.0.0.1:1/none")
    assert time.monotonic() - started < 3


def test_ready_shows_the_snapshot_lag(capped: Settings, tmp_path: Path) -> None:
    from syntha_redis.ops.http import start_http_server

    db = SqliteDB(str(tmp_path / "s.db"))
    db.migrate()
    snap = Snapshotter(capped, db)
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("x", 1)
    with start_http_server(capped, 0, "127.0.0.1", snapshot=snap) as server:
        status, _, body = server.answer("/ready")
        assert b'"snapshot_lag_entries": 1' in body and b'"snapshot_lag_seconds": 0.' in body
        snap.drain()
        status, _, body = server.answer("/ready")
        assert b'"snapshot_lag_seconds": 0.0' in body
    db.close()


def test_the_lag_is_exported_as_metrics(capped: Settings, tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from syntha_redis.snapshot.metrics import export

    db = SqliteDB(str(tmp_path / "s.db"))
    db.migrate()
    snap = Snapshotter(capped, db)
    registry = CollectorRegistry()
    export(snap, registry)
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("x", 1)
    snap.drain()
    _burst(mesh, 1_000)  # beyond the hard cap: a gap
    page = generate_latest(registry).decode()
    assert "syntha_redis_snapshot_gap_users{group=" in page and "} 1.0" in page
    snap.drain()
    page = generate_latest(registry).decode()
    assert 'syntha_redis_snapshot_lag_entries{group="' + snap.group + '"} 0.0' in page
    assert "syntha_redis_snapshot_full_captures_total" in page
    db.close()


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_a_version_from_before_a_failover_is_refused(
    prefix: str, tmp_path: Path, durability: str
) -> None:
    primary = RedisProcess().start()
    replica = RedisProcess(extra=("--replicaof", "127.0.0.1", str(primary.port))).start()
    proxy = Proxy("127.0.0.1", primary.port)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    try:
        mesh = _sqlite_mesh(url, prefix, tmp_path / "s.db", durability)
        v1 = mesh.push("x", "one")
        assert mesh.db_backend.flush(timeout=10)
        promoted = redis.Redis(port=replica.port)
        deadline = time.monotonic() + 10
        while promoted.exists(mesh.operations.keys.item("x")) == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        promoted.replicaof("NO", "ONE")  # it will miss what follows
        v2 = mesh.push("x", "two")
        mesh.close()
        proxy.down()
        proxy.target = ("127.0.0.1", replica.port)  # the failover
        proxy.up()
        other = _sqlite_mesh(url, prefix, tmp_path / "s.db", durability)  # a new process
        v3 = other.push("x", "three")
        assert v3 > v2 > v1
        with pytest.raises(SynthaConflictError):
            other.push("x", "four", expected_version=v2)
        other.close()
    finally:
        replica.stop()
        primary.stop()


def test_a_burst_before_the_first_acknowledgement_is_a_gap_too(
    capped: Settings, snapdb: SnapshotDB
) -> None:
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("first", 0)
    snap = Snapshotter(capped, snapdb)
    snap.drain()
    raw = redis.Redis.from_url(capped.redis_url or "")
    raw.set(mesh.operations.keys.root + "captured", "0-0")  # as a mesh opening sets it
    _burst(mesh, 1_000)
    assert snap.lag(["u"]).gaps == ("u",)
    snap.drain()
    assert len(_live(snapdb)) == 1_001


def test_a_snapshotter_leaves_the_users_of_another_database_alone(
    private_redis: RedisProcess, prefix: str, tmp_path: Path
) -> None:
    mesh = _sqlite_mesh(private_redis.url, prefix, tmp_path / "a.db")
    mesh.push("x", 1)
    other = SqliteDB(str(tmp_path / "b.db"))
    other.migrate()
    snap = Snapshotter(mesh.settings, other, users=lambda: ["u"])
    snap.drain()
    assert other.items("u") == [] and snap.lag().entries == 0
    assert mesh.db_backend.flush(timeout=10) and _live(mesh.db_backend.db) == {"x": 1}
    mesh.close()
    other.close()


def test_a_batch_committed_after_a_restore_is_put_back_into_redis(
    capped: Settings, tmp_path: Path
) -> None:
    from syntha_redis.snapshot import restore_user

    raw = redis.Redis.from_url(capped.redis_url or "")

    class FlushedMeanwhile(SqliteDB):
        """Redis loses its data, and a worker restores the user, while a batch read
        before the loss is being committed."""

        armed = False

        def write(self, batch: Batch) -> None:
            if self.armed:
                self.armed = False
                raw.flushdb()
                restore_user(capped, self, "u")
            super().write(batch)

    db = FlushedMeanwhile(str(tmp_path / "s.db"))
    db.migrate()
    mesh = ContextMesh(user_id="u", settings=capped)
    mesh.push("x", 1)
    snap = Snapshotter(capped, db)
    snap.drain()
    v2 = mesh.push("x", 2)
    db.armed = True
    snap.drain()
    item = mesh.get_item("x")
    assert item is not None and (item.value, item.version) == (2, v2)
    db.close()
