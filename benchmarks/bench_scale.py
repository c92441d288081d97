"""Throughput beyond one call at a time: batches, asyncio concurrency, processes.

    python benchmarks/bench_scale.py [--redis-url redis://127.0.0.1:6379/0]

Each figure sits next to the raw redis-py equivalent measured in the same run:
- push_many of 100 items (one script call) vs a non-transactional pipeline of 100
  raw EVALSHA pushes;
- AsyncContextMesh with 50 concurrent tasks vs raw redis.asyncio EVALSHA with 50 tasks;
- two worker processes vs one (horizontal scale on one shared mesh), next to the
  same scaling of raw EVALSHA.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
import uuid
from pathlib import Path

import msgpack
import redis
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import AsyncContextMesh, ContextMesh  # noqa: E402
from syntha_redis.core.scripts import SCRIPTS  # noqa: E402

VALUE = {"customer": "acme", "amount": 120_000, "notes": "x" * 150, "tags": ["a", "b"]}
PUSH = SCRIPTS["push"]


def raw_push_args(mesh: ContextMesh, key: str) -> tuple[object, ...]:
    ops = mesh.operations
    return (PUSH.sha, 1, ops.keys.root, uuid.uuid4().hex, *ops._head_tail, 100, key,
            msgpack.packb(VALUE), "", "sales", "", 0, "")


def bench_batches(url: str, prefix: str, rounds: int) -> None:
    mesh = ContextMesh(user_id="batch", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    mesh.push("warm-up", 0)  # provisions the user's copy of the limits the scripts read
    client = redis.Redis.from_url(url)
    client.script_load(PUSH.source)
    batch = [{"key": f"k{i}", "value": VALUE, "topics": ["sales"]} for i in range(100)]
    ours, raw = [], []
    for _ in range(rounds * 10):
        start = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for i in range(100):
            pipe.evalsha(*raw_push_args(mesh, f"r{i}"))
        pipe.execute()
        raw.append(100 / (time.perf_counter() - start))
        start = time.perf_counter()
        mesh.push_many(batch)
        ours.append(100 / (time.perf_counter() - start))
    ratio = statistics.median(o / r for o, r in zip(ours, raw, strict=True))
    print(f"{'push_many(100) vs pipelined 100 EVALSHA':<44} {statistics.median(ours):>10,.0f}"
          f" items/s {statistics.median(raw):>10,.0f} items/s {ratio:>6.2f}x")


async def _async_rate(push: object, tasks: int, per_task: int) -> float:
    async def worker(t: int) -> None:
        for i in range(per_task):
            await push(f"t{t}-{i}")  # type: ignore[operator]

    start = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    return tasks * per_task / (time.perf_counter() - start)


async def _bench_async(url: str, prefix: str, rounds: int) -> None:
    mesh = AsyncContextMesh(user_id="async", redis_url=url, key_prefix=prefix,
                            auto_cleanup=False, pool_size=50)
    sync_twin = ContextMesh(user_id="async", redis_url=url, key_prefix=prefix,
                            auto_cleanup=False)
    client = redis.asyncio.Redis(connection_pool=redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=50))
    await client.script_load(PUSH.source)

    async def ours(key: str) -> None:
        await mesh.push(key, VALUE, topics=["sales"])

    async def raw(key: str) -> None:
        await client.evalsha(*raw_push_args(sync_twin, key))

    await _async_rate(ours, 50, 20)  # warm both pools
    await _async_rate(raw, 50, 20)
    ours_rates, raw_rates = [], []
    for _ in range(rounds * 2):
        raw_rates.append(await _async_rate(raw, 50, 60))
        ours_rates.append(await _async_rate(ours, 50, 60))
    ratio = statistics.median(o / r for o, r in zip(ours_rates, raw_rates, strict=True))
    print(f"{'async push, 50 tasks vs raw redis.asyncio':<44} "
          f"{statistics.median(ours_rates):>10,.0f}/s {statistics.median(raw_rates):>16,.0f}/s"
          f" {ratio:>6.2f}x")
    await client.aclose()


def _process_worker(
    url: str, prefix: str, n: int, raw: bool, barrier: object, out: object
) -> None:
    mesh = ContextMesh(user_id="procs", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    mesh.push("warm", 1)
    client = redis.Redis.from_url(url)
    client.script_load(PUSH.source)
    barrier.wait()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(n):
        key = f"{uuid.uuid4().hex[:6]}-{i}"
        if raw:
            client.evalsha(*raw_push_args(mesh, key))
        else:
            mesh.push(key, VALUE, topics=["sales"])
    out.put(time.perf_counter() - start)  # type: ignore[attr-defined]


def _processes_rate(url: str, prefix: str, count: int, n: int, raw: bool) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(count), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(url, prefix, n, raw, barrier, out))
             for _ in range(count)]
    for p in procs:
        p.start()
    slowest = max(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    return count * n / slowest


def bench_processes(url: str, prefix: str, rounds: int) -> None:
    scaling = {}
    for raw in (False, True):
        one, two = [], []
        for _ in range(rounds):
            one.append(_processes_rate(url, prefix, 1, 3000, raw))
            two.append(_processes_rate(url, prefix, 2, 3000, raw))
        scaling[raw] = statistics.median(two) / statistics.median(one)
        label = "raw EVALSHA" if raw else "push"
        print(f"{label + ', 2 processes vs 1':<44} {statistics.median(two):>10,.0f}/s "
              f"{statistics.median(one):>16,.0f}/s {scaling[raw]:>6.2f}x")
    print(f"{'scaling: ours vs raw':<44} {scaling[False]:>10.2f}x {scaling[True]:>16.2f}x "
          f"{scaling[False] / scaling[True]:>6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    print(f"{'operation':<44} {'ours':>16} {'baseline':>22} {'ratio':>6}")
    try:
        bench_batches(args.redis_url, prefix, args.rounds)
        asyncio.run(_bench_async(args.redis_url, prefix, args.rounds))
        bench_processes(args.redis_url, prefix, args.rounds)
    finally:
        client = redis.Redis.from_url(args.redis_url)
        for name in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(name)


if __name__ == "__main__":
    main()
