"""Lost-keyspace detection: a mesh with a snapshot never acts on a Redis that lost its data.

Redis can lose a user's data while workers keep running: a kill -9 and an
empty restart, a failover to a replica that missed writes, an operator's
FLUSHDB. A worker cannot tell such a keyspace from a new one by looking at
it, and every write it made there would hide the loss (version counters
restart, the snapshot is never consulted again).

So each user's keyspace carries an epoch marker (``<root>epoch:<database>``),
set by ``restore_user`` as its last step, once the snapshot is back in Redis.
The marker names the snapshot database: a mesh of another database finds
none, and its restore is refused (one system of record per user,
``restore.claim_user``), so no mesh acts on a keyspace another database
restored. A mesh
with a snapshot passes the marker to every script (``lua/_prelude.lua``
refuses to act without it) and checks it with every plain read
(``syntha_redis.core.store``). Losing the data loses the marker, so the first call
after a loss fails with ``RestoreNeeded`` before it reads or writes anything,
and its store calls ``KeyspaceGuard.recover``:

- if the marker is back (another worker restored meanwhile), nothing to do;
- else take ``<root>restoring`` with SET NX PX: the one worker that gets it
  looks at the marker again (a restore may have ended between its check and
  its SET) and restores the user from the snapshot, which sets the marker;
- the others wait for the marker (or for the lock to lapse, then compete
  again), up to ``wait_seconds``.

A restore is idempotent (rows apply only if newer than Redis's), so a lock
that lapses during a very long restore costs a second restore, never data.
A brand-new user's first call runs an empty restore and sets the marker:
one extra round trip and one snapshot query, once per user.

A failover to a replica that missed the last writes keeps the marker, so it
is caught another way: a store whose calls met a connection error, a
cluster-down or read-only reply (or whose process's snapshot worker did)
marks its user suspect, and before its next call ``repair`` applies the
snapshot's rows that are newer than Redis's. It first waits for the
snapshot to capture what the stream holds, so no deletion is undone.

FLUSHDB is therefore a loss to repair, not a wipe: Redis cannot tell an
operator's flush from an empty restart. ``clear()`` is the way to wipe a
user; it tombstones every row in the snapshot.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from syntha_redis.core import keys
from syntha_redis.core.config import Settings
from syntha_redis.core.store import CommandCall, Store
from syntha_redis.exceptions import SynthaPersistenceError
from syntha_redis.snapshot.db import SnapshotDB
from syntha_redis.snapshot.restore import RestoreReport, restore_user

__all__ = ["KeyspaceGuard"]

log = logging.getLogger("syntha_redis.snapshot")

LOCK_MS = 30_000  # a restore that takes longer lets a second worker restore too (harmless)


class KeyspaceGuard:
    """Keeps one user's calls off a lost keyspace; restores it once when lost."""

    def __init__(
        self, settings: Settings, db: SnapshotDB, user_id: str, wait_seconds: float = 60.0
    ) -> None:
        self.settings = settings
        self.db = db
        self.user_id = user_id
        user_keys = keys.UserKeys(settings.key_prefix, user_id)
        self.root = user_keys.root
        self.epoch_key = user_keys.epoch(db.capture_group)
        self.lock_key = user_keys.restoring
        self.wait_seconds = wait_seconds
        self.restores = 0  # restores this guard ran (the others waited for one)

    def recover(self) -> RestoreReport | None:
        """Make sure the keyspace holds its snapshot again. Returns the report of the
        restore this call ran, None if the keyspace was (or got) restored by another."""
        store = Store(self.settings)
        return self._restore(store, lambda: bool(
            store.execute(CommandCall(("EXISTS", self.epoch_key)))))

    def repair(self) -> RestoreReport | None:
        """Restore the snapshot's rows over the live keyspace (only rows newer than
        Redis's apply): after a failover, what the promoted replica missed comes
        back. Waits for another worker's restore first, then runs its own."""
        return self._restore(Store(self.settings), lambda: False)

    def _restore(self, store: Store, done: Callable[[], bool]) -> RestoreReport | None:
        token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.005
        while True:
            if done():
                return None
            if store.execute(CommandCall(("SET", self.lock_key, token, "NX", "PX", LOCK_MS))):
                # another worker may have finished its restore (and released the
                # lock) between our check and our SET: look again, holding the lock
                if done():
                    self._release(store, token)
                    return None
                return self._restore_holding_lock(store, token)
            if time.monotonic() > deadline:
                raise SynthaPersistenceError(
                    f"user {self.user_id!r}: Redis lost this keyspace and no restore "
                    f"finished within {self.wait_seconds:.0f}s",
                    backend="redis",
                    operation="restore",
                    suggestions=["Check the worker holding the restore lock "
                                 f"({self.lock_key}) and the snapshot database"],
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _restore_holding_lock(self, store: Store, token: str) -> RestoreReport:
        try:
            report = restore_user(self.settings, self.db, self.user_id)
        finally:
            self._release(store, token)
        self.restores += 1
        if report.applied or report.agents:
            log.warning("user %r: Redis had lost data of this keyspace; restored from %s: %s",
                        self.user_id, self.db.describe(), report)
        return report

    def _release(self, store: Store, token: str) -> None:
        holder = store.execute(CommandCall(("GET", self.lock_key)))
        if holder is not None and holder.decode() == token:
            store.execute(CommandCall(("DEL", self.lock_key)))
