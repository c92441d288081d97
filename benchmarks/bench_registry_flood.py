"""A tenant floods the registry streams: what it costs the trusted side (issue 17).

    python benchmarks/bench_registry_flood.py [--dsn DSN] [--flood 100000]

On a private redis-server (so its command statistics are this run's alone),
with users alice (the attacker) and bob (the victim):

1. ``syntha-redis snapshot run`` runs as its own process; bob pushes every 100 ms,
   and each push's capture delay (push to its row in Postgres) is measured before
   and while alice, in a process of her own, XADDs ``--flood`` junk joins
   (distinct, well-formed user ids: the costliest kind) and as many junk limit asks;
2. the same floods again, folded in this process alone, to measure the trusted
   side's whole cost (``registry.fold`` and ``take_limit_asks`` until empty): wall
   time, this process's CPU time and the server's time (INFO commandstats);
3. after the floods: the registry's size, limits keys left behind, one fleet
   sweep pass and one ``/metrics`` reading of the mesh.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh, Settings  # noqa: E402
from syntha_redis.core import registry  # noqa: E402
from syntha_redis.core.store import Store  # noqa: E402
from syntha_redis.live.sweeper import Sweeper  # noqa: E402
from syntha_redis.ops.fleet_metrics import read_fleet  # noqa: E402


def flood(url: str, stream: str, count: int, tag: str) -> float:
    client = redis.Redis.from_url(url)
    start = time.perf_counter()
    for first in range(0, count, 10_000):
        pipe = client.pipeline(transaction=False)
        for n in range(first, min(count, first + 10_000)):
            pipe.xadd(stream, {"u": f"{tag}-{n}"})
        pipe.execute()
    return time.perf_counter() - start


def alice(url: str, joins: str, asks: str, count: int) -> None:
    took = flood(url, joins, count, "fake") + flood(url, asks, count, "asker")
    print(f"alice's floods: {count:,} joins + {count:,} limit asks in {took:.2f} s")


def server_usec(client: redis.Redis) -> int:
    return sum(int(s["usec"]) for s in client.info("commandstats").values())


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            return server, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def capture_delays(bob: ContextMesh, db: psycopg.Connection, seconds: float,
                   tag: str) -> list[float]:
    """bob pushes every 100 ms for ``seconds``; each push's time to its snapshot row."""
    delays = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        key = f"{tag}-{n}"
        n += 1
        pushed = time.monotonic()
        bob.push(key, n)
        while True:
            row = db.execute("SELECT 1 FROM syntha_items WHERE user_id = 'bob' AND key = %s",
                             (key,)).fetchone()
            if row:
                delays.append(time.monotonic() - pushed)
                break
            if time.monotonic() - pushed > 60:
                delays.append(float("inf"))
                break
            time.sleep(0.005)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - pushed)))
    return delays


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dsn", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--flood", type=int, default=100_000)
    args = parser.parse_args()
    prefix = f"flood{uuid.uuid4().hex[:8]}"
    schema = f"flood_{uuid.uuid4().hex[:8]}"
    server, url = start_server()
    try:
        run(args, url, prefix, schema)
    finally:
        server.terminate()
        server.wait(10)
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def run(args: argparse.Namespace, url: str, prefix: str, schema: str) -> None:
    settings = Settings(redis_url=url, key_prefix=prefix)
    client = redis.Redis.from_url(url)
    joins, asks = registry_streams(prefix)
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    dsn = f"{args.dsn}?options=-csearch_path%3D{schema}"
    meshes = [ContextMesh(user_id=u, redis_url=url, key_prefix=prefix,
                          auto_cleanup=False) for u in ("alice", "bob")]
    for mesh in meshes:
        mesh.push("hello", 1)
    bob = meshes[1]
    worker = subprocess.Popen(
        [sys.executable, "-m", "syntha_redis.cli", "snapshot", "run", "--redis-url",
         url, "--key-prefix", prefix, "--dsn", dsn],
        stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        db = psycopg.connect(dsn, autocommit=True)
        while True:  # the worker made its tables and captured the first pushes
            try:
                if db.execute("SELECT count(*) FROM syntha_items").fetchone() == (2,):
                    break
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.1)
        before = capture_delays(bob, db, 3, "before")
        attacker = multiprocessing.get_context("spawn").Process(
            target=alice, args=(url, joins, asks, args.flood))
        attacker.start()
        during = capture_delays(bob, db, 8, "during")
        attacker.join()
        backlog = client.xlen(joins), client.xlen(asks)
        print(f"left in the streams 8 s after the flood began: {backlog[0]:,} joins, "
              f"{backlog[1]:,} limit asks")
        print(f"bob's capture delay before: median {statistics.median(before):.3f} s, "
              f"max {max(before):.3f} s ({len(before)} pushes)")
        print(f"bob's capture delay during: median {statistics.median(during):.3f} s, "
              f"max {max(during):.3f} s ({len(during)} pushes)")
    finally:
        worker.terminate()
        worker.wait(10)
    store = Store(settings)
    client.delete(joins, asks)  # what the worker had not taken yet
    for stream, name, take in ((joins, "joins", registry.fold),
                               (asks, "limit asks", registry.take_limit_asks)):
        flood(url, stream, args.flood, "again")
        wall, cpu, usec = time.perf_counter(), time.process_time(), server_usec(client)
        passes = 0
        while client.xlen(stream):
            take(store)
            passes += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        usec = server_usec(client) - usec
        print(f"trusted cost of {args.flood:,} junk {name}: {passes} passes, {wall:.3f} s wall, "
              f"{cpu:.3f} s CPU of the reader + {usec / 1e6:.3f} s of Redis")
    users = client.scard(f"{prefix}:{{registry}}:users")
    limits = sum(1 for _ in client.scan_iter(match=f"{prefix}:{{u:*}}:limits", count=10_000))
    print(f"after the floods: {users} registered users, {limits} users' limits keys")
    start = time.perf_counter()
    swept = Sweeper().sweep_registered(settings)
    print(f"one fleet sweep pass: {time.perf_counter() - start:.3f} s ({len(swept)} users)")
    start = time.perf_counter()
    reading = read_fleet(store)
    print(f"one /metrics reading of the mesh: {time.perf_counter() - start:.3f} s "
          f"(up={reading.up}, users={reading.users})")
    for mesh in meshes:
        mesh.close()
    db.close()


def registry_streams(prefix: str) -> tuple[str, str]:
    return f"{prefix}:{{registry}}:joins", f"{prefix}:{{registry}}:limit-asks"


if __name__ == "__main__":
    main()
