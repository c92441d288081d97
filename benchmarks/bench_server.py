"""What an operation costs the Redis server, next to raw commands, in one run.

    python benchmarks/bench_server.py [--items 20000] [--rounds 5] [--json out.json]

Starts a private redis-server (``hash-max-listpack-value 1024``) on a free loopback
port, stores ``--items`` items (2 topics, a 160-byte value, ttl 3600) through the
library, then measures, each next to a raw redis-py baseline in the same run:

- server time per operation from INFO commandstats: the microseconds of every
  command the client sent for one operation (EVALSHA, or MULTI + EXEC, or the
  plain command), summed. Redis counts the commands a script or a transaction runs
  inside the EVALSHA or EXEC that ran them (and again on their own lines, which are
  shown as the profile but not added twice);
- used_memory per item once the retry records expired, and what one retry
  record costs while it lives;
- client-side rates of push and get against a raw round trip doing the baseline's
  work, and the p50 of get_all_for_agent with 200 items visible of 2,200.

Rounds alternate ours and raw so that both meet the same load on a shared machine;
each figure is the median over rounds. The last part is a paper model of a fleet
computed from these figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

VALUE = "v" * 158  # 160 bytes once msgpack-encoded (str8 header)
RAW_VALUE = b"v" * 160
TTL = 3600
OP_TTL = 3.0  # retry records live this long here (60 s by default)
CONTAINERS = ("evalsha", "evalsha_ro", "eval", "exec", "fcall", "fcall_ro")


def raw_fields(i: int) -> dict[str, Any]:
    """The raw baseline's 6 fields: what a push stores, without any index."""
    return {"value": RAW_VALUE, "version": i, "author": "writer", "created": 1764400000000,
            "expires": 1764403600000, "topics": f"t{i % 7},u{i % 11}"}


@dataclass
class Cost:
    """Server microseconds per operation, one figure per round."""

    name: str
    per_round: list[float] = field(default_factory=list)
    nested: dict[str, tuple[float, float]] = field(default_factory=dict)  # calls, µs per op

    @property
    def usec(self) -> float:
        return statistics.median(self.per_round)

    def ratio(self, raw: Cost) -> float:
        """Median of the per-round ratios: both figures of a round met the same load."""
        return statistics.median(o / r for o, r in zip(self.per_round, raw.per_round,
                                                       strict=True))


class Server:
    """INFO commandstats of the private server, read around one block of operations."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def measure(self, cost: Cost, top: tuple[str, ...], ops: int,
                block: Callable[[], object]) -> None:
        self.client.config_resetstat()
        block()
        stats = self.client.info("commandstats")
        usec, nested = 0, {}
        for name, row in stats.items():
            command = name.removeprefix("cmdstat_")
            if command in top:
                usec += row["usec"]
            elif not command.startswith(("config", "info")):
                nested[command] = (row["calls"] / ops, row["usec"] / ops)
        cost.per_round.append(usec / ops)
        cost.nested = nested


def fill(mesh: ContextMesh, items: int) -> None:
    for i in range(items):
        mesh.push(f"item-{i}", VALUE, topics=[f"t{i % 7}", f"u{i % 11}"], ttl=TTL)


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def wait_for_expiry(client: redis.Redis, pattern: str) -> None:
    """Until no key matching pattern is left (SCAN expires what it meets)."""
    time.sleep(OP_TTL + 0.5)
    while any(True for _ in client.scan_iter(match=pattern, count=5000)):
        time.sleep(0.2)


def memory(client: redis.Redis, url: str, items: int) -> dict[str, float]:
    mesh = ContextMesh(user_id="memory", redis_url=url, auto_cleanup=False,
                       operation_ttl_seconds=OP_TTL)
    mesh.push("warm-up", 1)
    time.sleep(OP_TTL + 0.5)
    before = used(client)
    fill(mesh, items)
    fresh = used(client)
    wait_for_expiry(client, mesh.operations.keys.root + "op:*")
    steady = used(client)
    raw_before = used(client)
    for start in range(0, items, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(items, start + 1000)):
            pipe.hset(f"raw:item:{i}", mapping=raw_fields(i))
            pipe.pexpire(f"raw:item:{i}", TTL * 1000)
        pipe.execute()
    raw = (used(client) - raw_before) / items
    mesh.close()
    return {"item": (steady - before) / items, "retry_record": (fresh - steady) / items,
            "raw_item": raw}


def server_costs(client: redis.Redis, url: str, items: int, rounds: int) -> dict[str, Cost]:
    mesh = ContextMesh(user_id="bench", redis_url=url, auto_cleanup=False)
    fill(mesh, items)
    mesh.register_agent_topics("reader", ["t1"])
    fan = ContextMesh(user_id="fan", redis_url=url, auto_cleanup=False)
    fan.register_agent_topics("reader", ["seen"])
    for start in range(0, 2200, 100):
        fan.push_many([{"key": f"f{i}", "value": VALUE, "ttl": TTL,
                        "topics": ["seen"] if i < 200 else [f"other{i % 5}"]}
                       for i in range(start, start + 100)])
    assert len(fan.get_all_for_agent("reader")) == 200
    server = Server(client)
    costs = {name: Cost(name) for name in (
        "push", "raw_push", "get", "raw_get", "visible", "push_many")}
    n, seq = 500, iter(range(10**9))

    def push_block() -> None:
        for _ in range(n):
            i = next(seq)
            mesh.push(f"new-{i}", VALUE, topics=[f"t{i % 7}", f"u{i % 11}"], ttl=TTL)

    def raw_push_block() -> None:
        for _ in range(n):
            i = next(seq)
            pipe = client.pipeline(transaction=True)
            pipe.hset(f"raw:new:{i}", mapping=raw_fields(i))
            pipe.pexpire(f"raw:new:{i}", TTL * 1000)
            pipe.execute()

    visible_keys = [f"item-{i}" for i in range(1, items, 7)]  # topic t1: the reader's
    item_keys = [f"{mesh.operations.keys.root}item:{k}" for k in visible_keys]
    batches = 10

    def push_many_block() -> None:
        for _ in range(batches):
            base = next(seq)
            mesh.push_many([{"key": f"many-{base}-{j}", "value": VALUE, "ttl": TTL,
                             "topics": [f"t{j % 7}", f"u{j % 11}"]} for j in range(100)])

    for _ in range(rounds):
        server.measure(costs["raw_push"], ("multi", "exec"), n, raw_push_block)
        server.measure(costs["push"], ("evalsha",), n, push_block)
        server.measure(costs["raw_get"], ("hgetall",), n, lambda: [
            client.hgetall(item_keys[j % len(item_keys)]) for j in range(n)])
        server.measure(costs["get"], ("evalsha",), n, lambda: [
            mesh.get(visible_keys[j % len(visible_keys)], "reader") for j in range(n)])
        server.measure(costs["visible"], ("evalsha",), 50, lambda: [
            fan.get_all_for_agent("reader") for _ in range(50)])
        server.measure(costs["push_many"], ("evalsha",), batches * 100, push_many_block)
    mesh.close()
    fan.close()
    return costs


def rate(fn: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def client_side(client: redis.Redis, url: str, rounds: int) -> dict[str, float]:
    """Rates of ours and of a raw round trip doing the baseline's work, alternating."""
    mesh = ContextMesh(user_id="client", redis_url=url, auto_cleanup=False)
    mesh.register_agent_topics("reader", ["t1"])
    root = mesh.operations.keys.root
    n = 500  # short blocks, many of them: a neighbour's burst spoils few

    def raw_push(i: int) -> object:
        pipe = client.pipeline(transaction=True)
        pipe.hset(f"raw:c:{i}", mapping=raw_fields(i))
        pipe.pexpire(f"raw:c:{i}", TTL * 1000)
        return pipe.execute()

    def push(i: int) -> object:
        return mesh.push(f"c{i}", VALUE, topics=["t1", f"u{i % 11}"], ttl=TTL)

    ratios: dict[str, list[float]] = {"push": [], "get": []}
    for _ in range(rounds * 4):
        raw_rate = rate(raw_push, n)
        ratios["push"].append(rate(push, n) / raw_rate)
    for _ in range(rounds * 4):
        raw_rate = rate(lambda i: client.hgetall(f"{root}item:c{i % n}"), n)
        ratios["get"].append(rate(lambda i: mesh.get(f"c{i % n}", "reader"), n) / raw_rate)
    fan = ContextMesh(user_id="fan", redis_url=url, auto_cleanup=False)
    latencies = []
    for _ in range(rounds * 60):
        start = time.perf_counter()
        fan.get_all_for_agent("reader")
        latencies.append((time.perf_counter() - start) * 1000)
    mesh.close()
    fan.close()
    return {"push_ratio": statistics.median(ratios["push"]),
            "get_ratio": statistics.median(ratios["get"]),
            "visible_p50_ms": statistics.median(latencies)}


def fleet(costs: dict[str, Cost], mem: dict[str, float]) -> list[str]:
    """A paper fleet from the measured costs: what sets the number of shards."""
    users, items_per_user = 100_000, 500
    pushes_per_user_s, reads_per_user_s, fanouts_per_user_s = 0.05, 0.2, 0.02
    busy = 0.5  # keep each shard's main thread at most half busy
    shard_memory = 25 * 2**30
    items = users * items_per_user
    server_s = users * (pushes_per_user_s * costs["push"].usec
                        + reads_per_user_s * costs["get"].usec
                        + fanouts_per_user_s * costs["visible"].usec) / 1e6
    bytes_total = items * mem["item"]
    shards = max(1, round(max(server_s / busy, bytes_total / shard_memory) + 0.49))
    return [
        f"{users:,} users x {items_per_user} items = {items / 1e6:.0f}M items; per user/s: "
        f"{pushes_per_user_s} push, {reads_per_user_s} get, {fanouts_per_user_s} fan-out",
        f"  server time {server_s:.2f} core-s per second -> {server_s / busy:.1f} shards at "
        f"{busy:.0%} busy; memory {bytes_total / 2**30:.1f} GiB -> "
        f"{bytes_total / shard_memory:.1f} shards of 25 GiB; needed: {shards}",
        f"  one shard at {busy:.0%} busy: {busy * 1e6 / costs['push'].usec:,.0f} pushes/s or "
        f"{busy * 1e6 / costs['get'].usec:,.0f} gets/s or "
        f"{busy * 1e6 / costs['visible'].usec:,.0f} fan-out reads/s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    server = RedisProcess(extra=("--hash-max-listpack-value", "1024")).start()
    try:
        client = redis.Redis.from_url(server.url)
        info = client.info("server")
        print(f"redis-server {info['redis_version']} on 127.0.0.1:{server.port}, "
              f"hash-max-listpack-value 1024; {args.items:,} items, 2 topics, "
              f"160-byte values, ttl {TTL}")
        mem = memory(client, server.url, args.items)
        costs = server_costs(client, server.url, args.items, args.rounds)
        clients = client_side(client, server.url, args.rounds)
    finally:
        server.stop()
    report(costs, mem, clients)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "server_usec": {k: c.usec for k, c in costs.items()},
            "nested_calls": {k: c.nested for k, c in costs.items()},
            "memory": mem, "client": clients}, indent=2))


def report(costs: dict[str, Cost], mem: dict[str, float], clients: dict[str, float]) -> None:
    c = costs
    rows = [
        ("push", c["push"].usec, f"MULTI{{HSET 6 fields; PEXPIRE}}: {c['raw_push'].usec:.1f} µs",
         c["push"].ratio(c["raw_push"]), "<= 2.5x"),
        ("get(key, agent)", c["get"].usec, f"HGETALL: {c['raw_get'].usec:.1f} µs",
         c["get"].ratio(c["raw_get"]), "<= 3x"),
        ("get_all_for_agent, 200 of 2,200", c["visible"].usec, "", None, "<= 500 µs"),
        ("push_many(100), per item", c["push_many"].usec, "", None, "<= 15 µs"),
    ]
    print(f"\nserver µs per operation (INFO commandstats, median of {len(c['push'].per_round)} "
          "rounds; a ratio is the median of the rounds' ratios)")
    print(f"{'operation':<34} {'ours':>9}  {'raw baseline':<40} {'ratio':>6}  target")
    for name, ours, raw, ratio, target in rows:
        shown = f"{ratio:5.1f}x" if ratio is not None else "     -"
        print(f"{name:<34} {ours:>7.1f}µs  {raw:<40} {shown}  {target}")
    bare = f"bare hash: {mem['raw_item']:.0f} B"
    print(f"{'memory per item, steady state':<34} {mem['item']:>8.0f}B  "
          f"{bare:<40} {mem['item'] / mem['raw_item']:5.1f}x  <= 750 B")
    print(f"{'retry record, while it lives':<34} {mem['retry_record']:>8.0f}B  "
          f"{'':<40} {'':>6}  <= 100 B")
    print("\nwhat one operation runs inside the server (command calls x µs, per operation):")
    for cost in (c["push"], c["get"], c["visible"], c["push_many"]):
        inner = ", ".join(f"{k} {n:g}x{u:.1f}" for k, (n, u) in sorted(
            cost.nested.items(), key=lambda kv: -kv[1][1]))
        print(f"  {cost.name:<10} {inner}")
    print("\nclient side (same server, alternating blocks)")
    print(f"  push / raw MULTI round trip          {clients['push_ratio']:.2f}x  target >= 0.85x")
    print(f"  get(key, agent) / raw HGETALL        {clients['get_ratio']:.2f}x  target >= 0.85x")
    print(f"  get_all_for_agent p50, 200 visible   {clients['visible_p50_ms']:.2f} ms  "
          "target <= 1.0 ms")
    print("\npaper fleet from these costs")
    for line in fleet(costs, mem):
        print("  " + line)


if __name__ == "__main__":
    main()
