"""The durable snapshot of the mesh: Redis streams in, Postgres (or SQLite) rows out.

    capture.py        Snapshotter: consumer group over every user's stream -> batches;
                      moves each user's capture floor (lua/snapshot_advance.lua) and
                      finds gaps; its lag in entries, seconds and gaps
    reconcile.py      full capture of one user (after a gap, or a new group), with
                      the deletions the scripts keep in <root>gone
    rows.py           ItemRow, AgentRow, Batch (what one transaction writes)
    db.py             SnapshotDB: version-guarded upserts and reads, PostgresDB / SqliteDB
    schema.py         tables per dialect, numbered migrations
    restore.py        snapshot -> Redis (lua/restore.lua), the user's one system of
                      record (claim_user), and verify
    guard.py          epoch guard: a lost keyspace is restored once, across workers,
                      before any call acts on it; suspect repair after a failover
    write_through.py  sync durability: a write's rows, from its call and reply,
                      committed before it returns
    metrics.py        the lag as Prometheus gauges

Every byte read from Redis here is parsed as untrusted (``core/untrusted.py``):
one user's malformed data is set aside and counted, the others flow. The mesh
attaches the guard and write-through through ``syntha_redis.persistence``;
fleets run ``syntha-redis snapshot run``.
"""

from syntha_redis.snapshot.capture import Snapshotter
from syntha_redis.snapshot.db import PoolSizes, PostgresDB, SnapshotDB, SqliteDB
from syntha_redis.snapshot.restore import RestoreReport, restore_all, restore_user, verify_user
from syntha_redis.snapshot.rows import AgentRow, Batch, ItemRow

__all__ = [
    "AgentRow",
    "Batch",
    "ItemRow",
    "PoolSizes",
    "PostgresDB",
    "RestoreReport",
    "SnapshotDB",
    "Snapshotter",
    "SqliteDB",
    "restore_all",
    "restore_user",
    "verify_user",
]
