"""The issue-18 reproductions at their full size, against a private redis-server and
the machine's Postgres (a fresh schema each, dropped at the end). Prints one line
of figures per reproduction; exits 1 if any loses data.

    python benchmarks/repro_durability.py [--burst 100000] [--delete 12000]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from syntha_redis.core.config import Settings  # noqa: E402
from syntha_redis.exceptions import SynthaConfigurationError, SynthaConflictError  # noqa: E402
from syntha_redis.snapshot import PostgresDB, Snapshotter  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

PG = "postgresql://127.0.0.1:5432/test"


@contextmanager
def schema() -> Iterator[str]:
    name = f"repro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{PG}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


def mesh(server: RedisProcess, dsn: str, durability: str = "async", user: str = "u") -> ContextMesh:
    return ContextMesh(user_id=user, redis_url=server.url, key_prefix="r", db_backend="postgresql",
                       connection_string=dsn, durability=durability, socket_timeout=10)


def burst(m: ContextMesh, count: int, topic: str | None = None) -> None:
    for first in range(0, count, 1000):
        m.push_many([{"key": f"k{i}", "value": i, **({"topics": [topic]} if topic else {})}
                     for i in range(first, min(first + 1000, count))])


def empty_restart(server: RedisProcess) -> None:
    server.kill()
    server.start()


def run_once_after_burst(count: int) -> bool:
    server = RedisProcess().start()
    with schema() as dsn:
        m = ContextMesh(user_id="u", redis_url=server.url, key_prefix="r")
        m.push("first", 0)
        db = PostgresDB(dsn)
        db.migrate()
        settings = Settings(redis_url=server.url, key_prefix="r")
        Snapshotter(settings, db).drain()  # the capture group exists
        burst(m, count)
        snap = Snapshotter(settings, db)
        lag_before = snap.lag(["u"])
        snap.drain(timeout=300)
        rows = len(db.items("u"))
        print(f"snapshot run --once after a {count} burst: {rows} rows of {m.size()} items; "
              f"lag before {lag_before.entries} entries {lag_before.seconds:.3f}s "
              f"(gap: {bool(lag_before.gaps)}), after {snap.lag(['u']).entries}; "
              f"full captures {snap.recaptures}")
        db.close()
        m.close()
    server.stop()
    return rows == count + 1


def burst_then_kill(count: int) -> bool:
    server = RedisProcess().start()
    with schema() as dsn:
        m = mesh(server, dsn)
        started = time.monotonic()
        burst(m, count)
        pushed = time.monotonic() - started
        lags = []
        for _ in range(8):
            time.sleep(1)
            lag = m.db_backend.lag()
            lags.append(lag.seconds)
            if lag.entries == 0:
                break
        rows = len(m.db_backend.db.items("u"))
        m.close()
        empty_restart(server)
        again = mesh(server, dsn)
        held = again.size()
        print(f"{count} pushed in {pushed:.1f}s; lag each second: "
              f"{', '.join(f'{x:.1f}' for x in lags)}; snapshot rows {rows}; after kill -9 "
              f"and an empty restart: {held} items, {count - held} lost")
        again.close()
    server.stop()
    return held == count


def big_delete(count: int, durability: str) -> bool:
    server = RedisProcess().start()
    with schema() as dsn:
        m = mesh(server, dsn, durability)
        burst(m, count, topic="T")
        m.push("kept", 1)
        m.db_backend.flush(timeout=120)
        deleted = m.delete_topic("T")
        if durability == "async":
            m.db_backend.flush(timeout=120)
        m.close()
        empty_restart(server)
        again = mesh(server, dsn, durability)
        back = again.size() - 1
        print(f"delete_topic of {deleted} items ({durability}); after kill -9 and an empty "
              f"restart: {back} back")
        again.close()
    server.stop()
    return back == 0


def cas_after_loss(durability: str, runs: int = 4) -> bool:
    refused = 0
    for _ in range(runs):
        server = RedisProcess().start()
        with schema() as dsn:
            m = mesh(server, dsn, durability)
            m.push("X", 1)
            m.db_backend.flush(timeout=10)
            v2 = m.push("X", 2)
            empty_restart(server)
            other = mesh(server, dsn, durability, user="u")
            v3 = other.push("X", 3)
            try:
                other.push("X", 4, expected_version=v2)
            except SynthaConflictError:
                refused += v3 > v2
            other.close()
            m.close()
        server.stop()
    print(f"compare-and-set with a version from before the loss ({durability}): "
          f"{refused} of {runs} refused")
    return refused == runs


def two_databases() -> bool:
    server = RedisProcess().start()
    with schema() as dsn2, schema() as dsn3:
        m1 = mesh(server, dsn2, "sync")
        m1.push("c", 1)
        try:
            mesh(server, dsn3)
            refused = False
        except SynthaConfigurationError as e:
            refused = True
            print(f"a second snapshot database for the user: {e.message}")
        m1.remove("c")
        m1.push("d", 1)
        empty_restart(server)
        m3 = None
        try:
            m3 = mesh(server, dsn3)
            m3.push("b", 2)  # database 3 restores first: it now holds the user
            m1.size()
            after = "m1 acted on database 3's keyspace"
        except SynthaConfigurationError:
            after = "m1 refused (SynthaConfigurationError), its rows stay in database 2"
        print(f"after an empty restart, database 3 restoring first: {after}")
        for m in (m1, m3):
            if m is not None:
                m.close()
    server.stop()
    return refused and "refused" in after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--delete", type=int, default=12_000)
    args = parser.parse_args()
    results = [
        run_once_after_burst(30_000),
        burst_then_kill(args.burst),
        big_delete(args.delete, "sync"),
        big_delete(args.delete, "async"),
        cas_after_loss("async"),
        cas_after_loss("sync"),
        two_databases(),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
