"""Saturation: pushes/s and Redis CPU with 1, 2 and 4 client processes, ours vs raw.

    python benchmarks/bench_saturation.py [--seconds 3] [--processes 1,2,4]

Starts a private redis-server (``hash-max-listpack-value 1024``) on a free loopback
port. Each process pushes for ``--seconds`` on its own connection: ours through
``ContextMesh.push`` (each process its own user, 2 topics, a 160-byte value, ttl
3600), raw as MULTI{HSET 6 fields; PEXPIRE}. Redis CPU is the growth of INFO cpu
(used_cpu_user + used_cpu_sys) over the run's wall time: 100 % is one core, which
is all a Redis main thread can use. On a 2-core machine the clients and the server
compete for the same cores, so the curve flattens early.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

VALUE = "v" * 158  # 160 bytes once msgpack-encoded
TTL = 3600


def worker(kind: str, url: str, index: int, seconds: float, start: Any, out: Any) -> None:
    if kind == "ours":
        mesh = ContextMesh(user_id=f"sat{index}", redis_url=url, auto_cleanup=False)

        def one(i: int) -> object:
            return mesh.push(f"k{i}", VALUE, topics=[f"t{i % 7}", f"u{i % 11}"], ttl=TTL)
    else:
        client = redis.Redis.from_url(url)
        fields = {"value": b"v" * 160, "version": 1, "author": "writer", "created": 1,
                  "expires": 2, "topics": "t1,u1"}

        def one(i: int) -> object:
            pipe = client.pipeline(transaction=True)
            pipe.hset(f"raw{index}:{i}", mapping=fields)
            pipe.pexpire(f"raw{index}:{i}", TTL * 1000)
            return pipe.execute()
    one(-1)
    start.wait()
    deadline = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < deadline:
        one(done)
        done += 1
    out.put(done)


def cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run(kind: str, url: str, processes: int, seconds: float) -> tuple[float, float]:
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(kind, url, i, seconds, start, out))
             for i in range(processes)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every process connected and warmed up
    client = redis.Redis.from_url(url)
    cpu_before, wall_before = cpu(client), time.perf_counter()
    start.set()
    total = sum(out.get() for _ in procs)
    wall = time.perf_counter() - wall_before
    busy = (cpu(client) - cpu_before) / wall
    for p in procs:
        p.join()
    return total / seconds, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", default="1,2,4")
    args = parser.parse_args()
    server = RedisProcess(extra=("--hash-max-listpack-value", "1024")).start()
    try:
        print(f"saturation on a private redis-server, {args.seconds:g} s per run; "
              "Redis CPU: 100 % = one core")
        print(f"{'processes':>9} {'ours push/s':>12} {'Redis CPU':>10} {'raw push/s':>11} "
              f"{'Redis CPU':>10} {'ratio':>6} {'server CPU per push, ours/raw':>30}")
        for n in (int(p) for p in args.processes.split(",")):
            raw_rate, raw_cpu = run("raw", server.url, n, args.seconds)
            ours_rate, ours_cpu = run("ours", server.url, n, args.seconds)
            per_push = (ours_cpu / ours_rate) / (raw_cpu / raw_rate)
            print(f"{n:>9} {ours_rate:>12,.0f} {ours_cpu:>9.0%} {raw_rate:>11,.0f} "
                  f"{raw_cpu:>9.0%} {ours_rate / raw_rate:>5.2f}x {per_push:>29.1f}x",
                  flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
