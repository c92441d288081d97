"""The durable snapshot of the mesh: Redis streams in, Postgres (or SQLite) rows out.

    capture.py    Snapshotter: consumer group over every user's stream -> batches
    reconcile.py  full capture of one user when stream history is missing
    rows.py       ItemRow, AgentRow, Batch (what one transaction writes)
    db.py         SnapshotDB: version-guarded upserts and reads, PostgresDB / SqliteDB
    schema.py     tables per dialect, numbered migrations
    restore.py    snapshot -> Redis (lua/restore.lua), and verify
    metrics.py    the lag as Prometheus gauges

The mesh attaches it through ``syntha_redis.persistence``; fleets run
``syntha-redis snapshot run``.
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
