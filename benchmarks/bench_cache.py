"""The client-side read cache (``read_cache_entries``): what a cached read saves,
what it costs the server, and how soon another process's write is seen.

    python benchmarks/bench_cache.py [--trials 1000] [--rounds 7] [--no-cluster]

Starts a private redis-server and a private 3-primary loopback cluster (so
INFO commandstats counts this benchmark's commands only), and on each, sync
and async:

- speed-up: ``get_all_for_agent`` with 200 visible items of 2,200 on an
  unchanged view, with and without the cache, in alternating rounds (the
  ratio is the median of the per-round ratios); for string values and for
  dict values (whose copies a cached read must decode);
- commands per cached read: INFO commandstats of every node before and after
  1,000 cached reads (the INFO calls themselves left out);
- invalidation latency: process A pushes, process B reads (cached) until it
  sees the new value; from A's acknowledgement to B's read, over ``--trials``
  trials, p50 / p99 / max (a read that saw the value before A's reply arrived
  counts as 0). B reads back to back (sync: the thread never sleeps; async:
  ``asyncio.sleep(0)`` between reads), and also, sync, with 0.1 ms pauses.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import AsyncContextMesh, ContextMesh  # noqa: E402
from tests.support.servers import RedisClusterProcesses, RedisProcess  # noqa: E402

FORK = mp.get_context("fork")
VALUES = {"text": "x" * 150,
          "dict": {"customer": "acme", "amount": 120_000, "notes": "x" * 150, "tags": ["a", "b"]}}
ITEMS, VISIBLE = 2200, 200
READS = 1000  # cached reads counted in INFO commandstats
PAUSE = 0.0001  # between B's reads, in the paused variant


def fill(url: str, prefix: str, user: str, value: Any) -> None:
    mesh = ContextMesh(user_id=user, redis_url=url, key_prefix=prefix, auto_cleanup=False)
    mesh.register_agent_topics("reader", ["seen"])
    for start in range(0, ITEMS, 100):
        mesh.push_many([{"key": f"f{i}", "value": value,
                         "topics": ["seen"] if i < VISIBLE else [f"other{i % 5}"]}
                        for i in range(start, start + 100)])


def nodes(url: str) -> list[redis.Redis]:
    if "+cluster" not in url:
        return [redis.Redis.from_url(url)]
    cluster = redis.RedisCluster.from_url(url.replace("+cluster", "", 1))
    return [redis.Redis(host=n.host, port=n.port) for n in cluster.get_primaries()]


def commandstats(servers: list[redis.Redis]) -> dict[str, int]:
    total: dict[str, int] = {}
    for server in servers:
        for name, stats in server.info("commandstats").items():
            command = name.removeprefix("cmdstat_")
            total[command] = total.get(command, 0) + int(stats["calls"])
    return total


def per_read(read: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        read()
    return (time.perf_counter() - started) / n


async def per_read_async(read: Callable[[], Awaitable[object]], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await read()
    return (time.perf_counter() - started) / n


def rounds_summary(label: str, plain: list[float], cached: list[float]) -> dict[str, float]:
    ratio = statistics.median(p / c for p, c in zip(plain, cached, strict=True))
    row = {"plain_us": statistics.median(plain) * 1e6,
           "cached_us": statistics.median(cached) * 1e6, "ratio": ratio}
    print(f"  {label:<34} uncached {row['plain_us']:8.1f} µs   cached {row['cached_us']:7.1f} µs"
          f"   {ratio:6.1f}x", flush=True)
    return row


def speed_sync(url: str, prefix: str, user: str, rounds: int) -> dict[str, float]:
    plain = ContextMesh(user_id=user, redis_url=url, key_prefix=prefix, auto_cleanup=False)
    cached = ContextMesh(user_id=user, redis_url=url, key_prefix=prefix, auto_cleanup=False,
                         read_cache_entries=1000)
    assert plain.get_all_for_agent("reader") == cached.get_all_for_agent("reader")
    assert len(plain.get_all_for_agent("reader")) == VISIBLE
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        times[0].append(per_read(lambda: plain.get_all_for_agent("reader"), 50))
        times[1].append(per_read(lambda: cached.get_all_for_agent("reader"), 500))
    return rounds_summary(f"sync, {user} values", *times)


def speed_async(url: str, prefix: str, user: str, rounds: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        plain = AsyncContextMesh(user_id=user, redis_url=url, key_prefix=prefix,
                                 auto_cleanup=False)
        cached = AsyncContextMesh(user_id=user, redis_url=url, key_prefix=prefix,
                                  auto_cleanup=False, read_cache_entries=1000)
        assert await plain.get_all_for_agent("reader") == await cached.get_all_for_agent("reader")
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(rounds):
            times[0].append(await per_read_async(lambda: plain.get_all_for_agent("reader"), 50))
            times[1].append(await per_read_async(lambda: cached.get_all_for_agent("reader"), 500))
        return rounds_summary(f"async, {user} values", *times)

    return asyncio.run(run())


def commands_per_read(url: str, prefix: str) -> float:
    mesh = ContextMesh(user_id="text", redis_url=url, key_prefix=prefix, auto_cleanup=False,
                       read_cache_entries=1000)
    tracker = mesh.store.tracker
    assert tracker is not None
    while True:  # until the fill's own invalidations have come and a read is kept
        hits = tracker.cache.hits
        mesh.get_all_for_agent("reader")
        if tracker.cache.hits > hits:
            break
        time.sleep(0.01)
    servers = nodes(url)
    before = commandstats(servers)
    for _ in range(READS):
        mesh.get_all_for_agent("reader")
    after = commandstats(servers)
    sent = {c: after[c] - before.get(c, 0) for c in after if after[c] != before.get(c, 0)}
    sent.pop("info", None)
    print(f"  commands during {READS} cached reads: {sum(sent.values())} {sent or ''}", flush=True)
    return sum(sent.values()) / READS


# -- invalidation latency: A writes, B reads -----------------------------------------


def writer(url: str, prefix: str, link: Connection) -> None:
    """Process A: pushes each value it is sent; answers with when its push returned."""
    mesh = ContextMesh(user_id="lat", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    while (value := link.recv()) is not None:
        mesh.push("k", value, topics=["seen"])
        link.send(time.perf_counter())


def latency_sync(url: str, prefix: str, trials: int, pause: float) -> list[float]:
    mesh = ContextMesh(user_id="lat", redis_url=url, key_prefix=prefix, auto_cleanup=False,
                       read_cache_entries=1000)
    mesh.register_agent_topics("reader", ["seen"])
    here, there = FORK.Pipe()
    process = FORK.Process(target=writer, args=(url, prefix, there), daemon=True)
    process.start()
    seen = []
    try:
        for value in range(trials):
            here.send(value)
            while mesh.get_all_for_agent("reader").get("k") != value:
                if pause:
                    time.sleep(pause)
            at = time.perf_counter()
            seen.append(at - here.recv())
    finally:
        here.send(None)
        process.join(10)
    return seen


def latency_async(url: str, prefix: str, trials: int) -> list[float]:
    async def run() -> list[float]:
        mesh = AsyncContextMesh(user_id="lat", redis_url=url, key_prefix=prefix,
                                auto_cleanup=False, read_cache_entries=1000)
        await mesh.register_agent_topics("reader", ["seen"])
        here, there = FORK.Pipe()
        process = FORK.Process(target=writer, args=(url, prefix, there), daemon=True)
        process.start()
        seen = []
        try:
            for value in range(trials):
                here.send(value)
                while (await mesh.get_all_for_agent("reader")).get("k") != value:
                    await asyncio.sleep(0)
                at = time.perf_counter()
                seen.append(at - here.recv())
        finally:
            here.send(None)
            process.join(10)
        return seen

    return asyncio.run(run())


def latency_summary(label: str, seen: list[float]) -> dict[str, float]:
    ordered = sorted(max(0.0, s) for s in seen)
    row = {"p50_ms": ordered[len(ordered) // 2] * 1e3,
           "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
           "max_ms": ordered[-1] * 1e3}
    print(f"  {label:<34} p50 {row['p50_ms']:6.2f} ms   p99 {row['p99_ms']:6.2f} ms   "
          f"max {row['max_ms']:6.2f} ms   ({len(seen)} trials)", flush=True)
    return row


def bench(label: str, url: str, trials: int, rounds: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    print(f"\n[{label}] {url}", flush=True)
    for user, value in VALUES.items():
        fill(url, prefix, user, value)
    for user in VALUES:
        speed_sync(url, prefix, user, rounds)
        speed_async(url, prefix, user, rounds)
    commands = commands_per_read(url, prefix)
    print(f"  commands per cached read: {commands:g}", flush=True)
    latency_summary("A push -> B read, sync", latency_sync(url, prefix, trials, 0))
    latency_summary("A push -> B read, async", latency_async(url, prefix, trials))
    latency_summary("A push -> B read, sync, 0.1 ms pauses",
                    latency_sync(url, prefix, trials // 5, PAUSE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args()
    server = RedisProcess().start()
    try:
        bench("single Redis", server.url, args.trials, args.rounds)
    finally:
        server.stop()
    if not args.no_cluster:
        cluster = RedisClusterProcesses().start()
        try:
            bench("Redis Cluster, 3 primaries", cluster.url, args.trials, args.rounds)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
