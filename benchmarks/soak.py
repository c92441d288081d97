"""The durability soak (`make soak`): a randomized, model-based run with faults.

A private redis-server, a fresh schema in the machine's Postgres (dropped at
the end), one trusted snapshot worker process, and WRITERS writer processes,
each the only writer of its own user and each keeping a model of what it was
acknowledged (half of them with ``durability="sync"``, half "async"). Every
writer also runs a watcher of its user's global items.

The coordinator injects a fault every few seconds: kill -9 and an empty
restart, FLUSHDB, pub/sub clients killed, SCRIPT FLUSH, Postgres connections
terminated (ours only, by application_name), a burst of BURST items, a
delete_topic of those items. After each fault every writer checks:

- sync: every acknowledged write is there with its latest value and version,
  and no deleted key is back;
- async: every key holds an acknowledged state of it no older than its
  snapshot row (what was captured is never lost), no deleted key whose
  deletion was captured is back, nothing unknown appears;
- versions only go forward (each write's version is above every version the
  user was acknowledged before), a compare-and-set with the current version
  succeeds and one with an older version is refused;
- the watcher saw every acknowledged version, or a ``gap`` event meanwhile.

Prints operations, faults and checks; exits 1 on any violation.

    python benchmarks/soak.py [--minutes 10] [--writers 3] [--burst 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from syntha_redis.core.codec import decode_value  # noqa: E402
from syntha_redis.exceptions import SynthaConflictError, SynthaError  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

PG = os.environ.get("SYNTHA_SOAK_PG", "postgresql://127.0.0.1:5432/test")
APP = "syntha-soak"
PREFIX = "soak"
KEYS = 200  # key space of the random operations
FAULTS = ("kill9", "flushdb", "pubsub", "scriptflush", "pgkill", "burst", "bigdelete")


def _dsn(schema: str) -> str:
    return f"{PG}?options=-csearch_path%3D{schema}&application_name={APP}"


def _mesh(url: str, schema: str, user: str, durability: str) -> ContextMesh:
    return ContextMesh(user_id=user, redis_url=url, key_prefix=PREFIX, db_backend="postgresql",
                       connection_string=_dsn(schema), durability=durability,
                       socket_timeout=5, db_connect_timeout=5)


class Writer:
    """One user's writer: random operations against a model of its acknowledgements."""

    def __init__(self, url: str, schema: str, user: str, durability: str, seed: int) -> None:
        self.user, self.durability = user, durability
        self.rng = random.Random(seed)
        self.mesh = _mesh(url, schema, user, durability)
        self.model: dict[str, tuple[int, int]] = {}  # key -> (value, version)
        self.history: dict[str, dict[int, int | None]] = {}  # key -> version -> value/None
        self.deleted: dict[str, int] = {}  # key -> version of its deletion
        # keys of writes that failed (a fault): applied or not, either is right
        self.uncertain: dict[str, set[int | None]] = {}
        self.top = 0  # highest version acknowledged
        self.ops = self.checks = 0
        self.violations: list[str] = []
        self.seen: set[int] = set()
        self.gaps = 0
        self.acked_since_check: set[int] = set()
        self.gaps_at_check = 0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                for event in self.mesh.watch("watcher"):
                    if event.type == "gap":
                        self.gaps += 1
                    else:
                        self.seen.add(event.version)
            except SynthaError:
                time.sleep(0.5)

    def violation(self, what: str) -> None:
        self.violations.append(f"{self.user} ({self.durability}): {what}")

    def acked(self, key: str, value: int | None, version: int, global_item: bool) -> None:
        if version <= self.top:
            self.violation(f"version {version} of {key} not above {self.top} acknowledged before")
        self.top = max(self.top, version)
        self.history.setdefault(key, {})[version] = value
        if value is None:
            self.model.pop(key, None)
            self.deleted[key] = version
        else:
            self.model[key] = (value, version)
            self.deleted.pop(key, None)
            if global_item:
                self.acked_since_check.add(version)

    def step(self) -> None:
        """One random operation; a failure during a fault is not acknowledged."""
        key = f"k{self.rng.randrange(KEYS)}"
        roll = self.rng.random()
        value = self.rng.randrange(1_000_000)
        keys = sorted({f"k{self.rng.randrange(KEYS)}" for _ in range(10)})
        try:
            if roll < 0.5:
                self.acked(key, value, self.mesh.push(key, value), True)
            elif roll < 0.65:
                versions = self.mesh.push_many([{"key": k, "value": value} for k in keys])
                for k, v in zip(keys, versions, strict=True):
                    self.acked(k, value, v, True)
            elif roll < 0.8:
                if self.mesh.remove(key):
                    self._removed(key)
            else:
                self._compare_and_set(key, value)
            self.ops += 1
        except SynthaError:
            for k in keys if 0.5 <= roll < 0.65 else [key]:
                self.uncertain.setdefault(k, set()).add(None if 0.65 <= roll < 0.8 else value)
            time.sleep(0.05)

    def _removed(self, key: str) -> None:
        # remove() answers a bool: the deletion's version is above everything before
        self.top += 1
        self.history.setdefault(key, {})[self.top] = None
        self.model.pop(key, None)
        self.deleted[key] = self.top

    def _compare_and_set(self, key: str, value: int) -> None:
        current = self.mesh.get_item(key)
        version = current.version if current else 0
        known = self.model.get(key, (0, 0))[1]
        stale = None
        if known and known != version:
            stale = known  # acknowledged before a loss: Redis holds another version now
        elif version and self.rng.random() < 0.3:
            stale = version - self.rng.randrange(1, 1000)
        if stale is not None:
            try:
                self.mesh.push(key, value, expected_version=stale)
                self.violation(f"compare-and-set of {key} with stale version {stale} succeeded")
            except SynthaConflictError:
                pass
            return
        new = self.mesh.push(key, value, expected_version=version)
        self.acked(key, value, new, True)

    def burst(self, size: int) -> None:
        for first in range(0, size, 1000):
            items = [{"key": f"b{i}", "value": i, "topics": ["burst"]}
                     for i in range(first, min(first + 1000, size))]
            for item, v in zip(items, self.mesh.push_many(items), strict=True):
                self.acked(str(item["key"]), int(item["value"]), v, False)
        self.ops += 1

    def big_delete(self) -> None:
        gone = [k for k in self.model if k.startswith("b")]
        count = self.mesh.delete_topic("burst")
        if count < len(gone):
            self.violation(f"delete_topic removed {count} of {len(gone)} burst items")
        for key in gone:
            self._removed(key)
        self.ops += 1

    def check(self) -> None:
        """The invariants, against Redis and (async) the snapshot's rows."""
        self.checks += 1
        backend = self.mesh.db_backend
        if self.durability == "async":
            backend.flush(timeout=60)
        stored = {}
        for key in set(self.model) | set(self.deleted) | set(self.history):
            item = self.mesh.get_item(key)
            if item is not None:
                stored[key] = (item.value, item.version)
        rows = {r.key: r for r in backend.db.items(self.user)} if self.durability == "async" \
            else {}
        for key in set(self.history) | set(stored):
            have = stored.get(key)
            history = self.history.get(key, {})
            attempts = self.uncertain.get(key, set())
            if (have is None and None in attempts) or (have is not None and have[0] in attempts
                                                       and have[1] > self.top - 1):
                continue  # a write that failed during a fault was applied, or not
            if have is not None and history.get(have[1], "none") != have[0]:
                self.violation(f"{key} holds {have}, never acknowledged")
                continue
            if self.durability == "sync":
                want = self.model.get(key)
                if want != have:
                    self.violation(f"{key}: acknowledged {want}, found {have}")
                continue
            row = rows.get(key)
            floor = row.version if row is not None else 0
            if have is not None and have[1] < floor:
                self.violation(f"{key}: captured version {floor} lost (found {have[1]})")
            if have is None and row is not None and decode_value(row.value or b"") is not None:
                self.violation(f"{key}: captured version {row.version} lost")
        # adopt what is there (async: uncaptured writes may be gone, that is the mode)
        self.model = {k: (int(v), ver) for k, (v, ver) in stored.items()}
        for k, (v, ver) in self.model.items():
            self.history.setdefault(k, {})[ver] = v
            self.top = max(self.top, ver)
        self.uncertain = {}
        self._watcher_check()

    def _watcher_check(self) -> None:
        deadline = time.monotonic() + 10
        while self.acked_since_check - self.seen and time.monotonic() < deadline:
            time.sleep(0.05)
        missing = self.acked_since_check - self.seen
        if missing and self.gaps == self.gaps_at_check:
            self.violation(f"watcher missed {len(missing)} events without a gap event")
        self.acked_since_check, self.gaps_at_check = set(), self.gaps


def _writer(url: str, schema: str, n: int, commands: Any, results: Any) -> None:
    durability = "sync" if n % 2 == 0 else "async"
    try:
        w = Writer(url, schema, f"user{n}", durability, seed=n)
        while True:
            while commands.poll():
                command, arg = commands.recv()
                if command == "stop":
                    results.put((w.user, w.ops, w.checks, w.violations))
                    return
                if command == "check":
                    w.check()
                    commands.send(("checked", len(w.violations)))
                elif command == "burst":
                    w.burst(arg)
                elif command == "bigdelete":
                    w.big_delete()
            w.step()
    except Exception:
        results.put((f"user{n}", 0, 0, [traceback.format_exc()]))


def _worker(url: str, schema: str) -> None:
    from syntha_redis.core.config import Settings
    from syntha_redis.snapshot import PostgresDB, Snapshotter

    db = PostgresDB(_dsn(schema))
    db.migrate()
    Snapshotter(Settings(redis_url=url, key_prefix=PREFIX), db,
                maintain_every=1.0).run(stop=lambda: False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--fault-every", type=float, default=8.0, help="seconds")
    args = parser.parse_args()
    spawn = mp.get_context("spawn")
    server = RedisProcess().start()
    schema = f"soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    worker = spawn.Process(target=_worker, args=(server.url, schema), daemon=True)
    worker.start()
    results = spawn.Queue()
    pipes, procs = [], []
    for n in range(args.writers):
        ours, theirs = spawn.Pipe()
        p = spawn.Process(target=_writer, args=(server.url, schema, n, theirs, results),
                          daemon=True)
        p.start()
        pipes.append(ours)
        procs.append(p)
    faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
    rng = random.Random(18)
    deadline = time.monotonic() + args.minutes * 60
    violations = 0
    try:
        while time.monotonic() < deadline:
            time.sleep(args.fault_every)
            fault = rng.choice(FAULTS)
            faults[fault] += 1
            _inject(fault, server, pipes, args.burst)
            time.sleep(1.0)
            for pipe in pipes:
                pipe.send(("check", None))
            counts = [pipe.recv()[1] if pipe.poll(300) else 1 for pipe in pipes]
            violations = sum(counts)
            print(f"{time.strftime('%H:%M:%S')} {fault}: checked, violations so far "
                  f"{violations}", flush=True)
        for pipe in pipes:
            pipe.send(("stop", None))
        total_ops = total_checks = 0
        found: list[str] = []
        for _ in procs:
            user, ops, checks, vs = results.get(timeout=300)
            total_ops, total_checks = total_ops + ops, total_checks + checks
            found += vs
        print(f"operations: {total_ops}; faults: {sum(faults.values())} "
              f"({', '.join(f'{k} {v}' for k, v in faults.items())}); "
              f"invariant checks: {total_checks} ({len(procs)} writers); "
              f"violations: {len(found)}")
        for v in found[:50]:
            print("VIOLATION", v)
        return 1 if found else 0
    finally:
        for p in [*procs, worker]:
            if p.is_alive():
                p.kill()
        server.stop()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _inject(fault: str, server: RedisProcess, pipes: list[Any], burst: int) -> None:
    raw = redis.Redis.from_url(server.url)
    if fault == "kill9":
        server.kill()
        server.start()
    elif fault == "flushdb":
        raw.flushdb()
    elif fault == "pubsub":
        raw.client_kill_filter(_type="pubsub")
    elif fault == "scriptflush":
        raw.script_flush()
    elif fault == "pgkill":
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = %s", (APP,))
    elif fault in ("burst", "bigdelete"):
        pipes[0].send((fault, burst))


if __name__ == "__main__":
    sys.exit(main())
