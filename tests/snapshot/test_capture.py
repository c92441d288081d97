"""Capture: every kind of change reaches the snapshot, on Postgres and SQLite alike."""

from __future__ import annotations

from syntha_redis import ContextMesh
from syntha_redis.core.codec import decode_value
from syntha_redis.core.config import Settings
from syntha_redis.snapshot import SnapshotDB, Snapshotter
from syntha_redis.snapshot.schema import MIGRATIONS


def _mesh(settings: Settings, user: str = "alice") -> ContextMesh:
    return ContextMesh(user_id=user, settings=settings)


def _live(db: SnapshotDB, user: str = "alice") -> dict[str, object]:
    return {row.key: decode_value(row.value or b"") for row in db.items(user)}


def test_migrations_run_once_and_are_recorded(snapdb: SnapshotDB) -> None:
    assert snapdb.migrate() == []  # the fixture already applied them
    with snapdb.transaction() as cur:
        cur.execute(f"SELECT version FROM {snapdb.tables.migrations}")
        assert [r[0] for r in cur.fetchall()] == [v for v, _, _ in MIGRATIONS]


def test_pushes_updates_and_removes_are_captured(settings: Settings, snapdb: SnapshotDB) -> None:
    mesh = _mesh(settings)
    mesh.push("plan", {"step": 1}, topics=["sales"], ttl=60)
    v2 = mesh.push("plan", {"step": 2}, topics=["sales"], ttl=60)
    mesh.push("gone", "x")
    mesh.remove("gone")
    Snapshotter(settings, snapdb).drain()
    rows = {row.key: row for row in snapdb.items("alice")}
    assert list(rows) == ["plan"]
    assert decode_value(rows["plan"].value or b"") == {"step": 2}
    assert rows["plan"].version == v2 and rows["plan"].topics == ["sales"]
    assert rows["plan"].expires_ms is not None


def test_replaying_the_stream_changes_nothing(settings: Settings, snapdb: SnapshotDB) -> None:
    mesh = _mesh(settings)
    for i in range(5):
        mesh.push("k", i)
    snap = Snapshotter(settings, snapdb)
    snap.drain()
    stream = mesh.operations.keys.stream
    entries = snap.client.xrange(stream)
    from syntha_redis.snapshot.capture import Entry

    snap.write([Entry("alice", stream, mid, f) for mid, f in reversed(entries)])
    assert _live(snapdb) == {"k": 4}


def test_subscriptions_permissions_and_topic_deletion(
    settings: Settings, snapdb: SnapshotDB
) -> None:
    mesh = _mesh(settings)
    mesh.register_agent_topics("bob", ["sales", "ops"])
    mesh.register_agent_topics("eve", ["ops"])
    mesh.set_agent_post_permissions("bob", ["sales"])
    mesh.push("a", 1, topics=["ops"])
    mesh.push("b", 2, topics=["ops", "sales"])
    mesh.delete_topic("ops")
    Snapshotter(settings, snapdb).drain()
    agents = {(a.agent, a.kind): a.topics for a in snapdb.agents("alice")}
    assert agents == {("bob", "subscribed"): ["sales"], ("bob", "permissions"): ["sales"]}
    assert [(r.key, r.topics) for r in snapdb.items("alice")] == [("b", ["sales"])]


def test_clear_removes_everything_older(settings: Settings, snapdb: SnapshotDB) -> None:
    mesh = _mesh(settings)
    mesh.push("old", 1)
    mesh.register_agent_topics("bob", ["sales"])
    snap = Snapshotter(settings, snapdb)
    snap.drain()
    mesh.clear()
    mesh.push("new", 2)
    snap.drain()
    assert _live(snapdb) == {"new": 2}
    assert snapdb.agents("alice") == []


def test_users_are_isolated(settings: Settings, snapdb: SnapshotDB) -> None:
    _mesh(settings, "alice").push("k", "a")
    _mesh(settings, "b{ob}:*").push("k", "b")
    Snapshotter(settings, snapdb).drain()
    assert _live(snapdb, "alice") == {"k": "a"}
    assert _live(snapdb, "b{ob}:*") == {"k": "b"}


def test_consumers_of_dead_snapshotters_are_forgotten(
    settings: Settings, snapdb: SnapshotDB
) -> None:
    mesh = _mesh(settings)
    mesh.push("a", 1)
    Snapshotter(settings, snapdb, consumer="dead-process").drain()
    mesh.push("b", 2)
    Snapshotter(settings, snapdb, consumer="live-process", forget_idle_ms=0).run_once()
    consumers = mesh.store.client.xinfo_consumers(mesh.operations.keys.stream, snapdb.capture_group)
    assert [c["name"] for c in consumers] in (["live-process"], [b"live-process"])
    assert set(_live(snapdb)) == {"a", "b"}
