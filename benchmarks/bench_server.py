"""What an operation costs the Redis server, next to raw commands, in one run.

    python benchmarks/bench_server.py [--items 20000] [--rounds 5] [--json out.json]

Starts a private redis-server (``hash-max-listpack-value 1024``) on a free loopback
port, stores ``--items`` items (2 topics, a 160-byte value, ttl 3600) through the
library, then measures each operation next to a floor in the same run:

- script time from INFO commandstats (the usec of EVALSHA, or MULTI + EXEC, or the
  plain command; Redis counts the commands a script runs inside its EVALSHA and
  again on their own lines, which are printed as the profile) against a floor
  script that makes only the writes or reads the feature needs (FLOOR_PUSH,
  FLOOR_GET, FLOOR_FAN below);
- server CPU per call from INFO cpu (user + sys of the redis-server process), which
  also counts reading, parsing and replying: what bounds a shard;
- used_memory per item once the retry records expired, and what one retry
  record costs while it lives;
- client-side rates of push and get against a raw round trip doing the baseline's
  work, and the p50 of get_all_for_agent with 200 items visible of 2,200.

Each round runs every block once, in the opposite order to the round before, so
ours and its floor meet the same load on a shared machine; a ratio is the median
of the per-round ratios. The last part is a paper model of a fleet computed from
the server CPU figures.
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
from syntha_redis.core.codec import encode_value  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

VALUE = "v" * 158  # 160 bytes once msgpack-encoded (str8 header)
RAW_VALUE = b"v" * 160
TTL = 3600
OP_TTL = 3.0  # retry records live this long here (60 s by default)
CONTAINERS = ("evalsha", "evalsha_ro", "eval", "exec", "fcall", "fcall_ro")


def raw_fields(i: int) -> dict[str, Any]:
    """The raw baseline's 6 fields: what a push stores, without any index."""
    return {
        "value": RAW_VALUE,
        "version": i,
        "author": "writer",
        "created": 1764400000000,
        "expires": 1764403600000,
        "topics": f"t{i % 7},u{i % 11}",
    }


@dataclass
class Cost:
    """Server microseconds per operation, one figure per round: script or command
    time (INFO commandstats) and the process's CPU time (INFO cpu, user + sys)."""

    name: str
    per_round: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    nested: dict[str, tuple[float, float]] = field(default_factory=dict)  # calls, µs per op

    @property
    def usec(self) -> float:
        return statistics.median(self.per_round)

    def ratio(self, raw: Cost) -> float:
        """Median of the per-round ratios: both figures of a round met the same load."""
        return statistics.median(o / r for o, r in zip(self.per_round, raw.per_round, strict=True))

    @property
    def cpu_usec(self) -> float:
        return statistics.median(self.cpu)

    def cpu_ratio(self, raw: Cost) -> float:
        return statistics.median(o / r for o, r in zip(self.cpu, raw.cpu, strict=True))


class Server:
    """INFO commandstats of the private server, read around one block of operations."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def cpu(self) -> float:
        """Seconds of CPU the redis-server process has used (all its threads)."""
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def measure(
        self, cost: Cost, top: tuple[str, ...], ops: int, block: Callable[[], object]
    ) -> None:
        self.client.config_resetstat()
        cpu = self.cpu()
        block()
        cost.cpu.append((self.cpu() - cpu) * 1e6 / ops)
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
    mesh = ContextMesh(
        user_id="memory", redis_url=url, auto_cleanup=False, operation_ttl_seconds=OP_TTL
    )
    mesh.push("warm-up", 1)
    time.sleep(OP_TTL + 0.5)
    before = used(client)
    fill(mesh, items)
    fresh = used(client)
    wait_for_expiry(client, mesh.operations.keys.root + "op:*")
    steady = used(client)
    parts = where_memory_goes(client, mesh.operations.keys.root, items)
    raw_before = used(client)
    for start in range(0, items, 1000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, min(items, start + 1000)):
            pipe.hset(f"raw:item:{i}", mapping=raw_fields(i))
            pipe.pexpire(f"raw:item:{i}", TTL * 1000)
        pipe.execute()
    raw = (used(client) - raw_before) / items
    mesh.close()
    return {
        "item": (steady - before) / items,
        "retry_record": (fresh - steady) / items,
        "raw_item": raw,
        **{f"part:{name}": size for name, size in parts.items()},
    }


def where_memory_goes(client: redis.Redis, root: str, items: int) -> dict[str, float]:
    """MEMORY USAGE per item of each of the user's structures (item hashes from
    a sample of 200; the rest whole, divided by the items)."""
    sample = [f"{root}item:item-{i}" for i in range(0, items, max(1, items // 200))]
    hashes = sum(int(client.memory_usage(k, samples=0) or 0) for k in sample) / len(sample)
    parts = {"item hash": hashes}
    names = {
        "expiry zset": "exp",
        "routes hash": "routes",
        "items set": "items",
        "stream": "events",
    }
    for name, suffix in names.items():
        parts[name] = int(client.memory_usage(root + suffix, samples=0) or 0) / items
    topic_sets = client.keys(root + "titems:*")
    parts["topic sets"] = (
        sum(int(client.memory_usage(k, samples=0) or 0) for k in topic_sets) / items
    )
    return parts


# Floor scripts: the same writes (or reads) a feature needs, with nothing else
# (no checks, no retry lookup, no index upkeep beyond these). KEYS[1] = a root.
FLOOR_PUSH = """
local v = redis.call('INCR', KEYS[1] .. 'ver')
local item = KEYS[1] .. 'i:' .. ARGV[1]
redis.call('HSET', item, 'value', ARGV[2], 'version', v, 'author', ARGV[3], 'created', ARGV[4],
           'expires', ARGV[5], 'topics', ARGV[6])
redis.call('PEXPIREAT', item, ARGV[5])
redis.call('ZADD', KEYS[1] .. 'items', ARGV[5], ARGV[1])
for t in string.gmatch(ARGV[6], '[^,]+') do redis.call('SADD', KEYS[1] .. 't:' .. t, ARGV[1]) end
local id = redis.call('XADD', KEYS[1] .. 'events', 'MAXLEN', '~', '10000', '*',
                      'k', ARGV[1], 'e', 'p')
redis.call('SPUBLISH', KEYS[1] .. 'wake', v)
redis.call('HSET', KEYS[1] .. 'op:' .. string.sub(ARGV[7], 1, 2), ARGV[7], v)
return {v, id}
"""
# ARGV[1] = key token
FLOOR_GET = """
return redis.call('HMGET', KEYS[1] .. 'item:' .. ARGV[1], 'value', 'topics', 'subs')
"""
# ARGV[1] = topic token
FLOOR_FAN = """
local out = {}
for _, tok in ipairs(redis.call('SMEMBERS', KEYS[1] .. 'titems:' .. ARGV[1])) do
  out[#out + 1] = redis.call('HMGET', KEYS[1] .. 'item:' .. tok, 'value', 'expires')
end
return out
"""


def server_costs(client: redis.Redis, url: str, items: int, rounds: int) -> dict[str, Cost]:
    mesh = ContextMesh(user_id="bench", redis_url=url, auto_cleanup=False)
    fill(mesh, items)
    mesh.register_agent_topics("reader", ["t1"])
    fan = ContextMesh(user_id="fan", redis_url=url, auto_cleanup=False)
    fan.register_agent_topics("reader", ["seen"])
    for start in range(0, 2200, 100):
        fan.push_many(
            [
                {
                    "key": f"f{i}",
                    "value": VALUE,
                    "ttl": TTL,
                    "topics": ["seen"] if i < 200 else [f"other{i % 5}"],
                }
                for i in range(start, start + 100)
            ]
        )
    assert len(fan.get_all_for_agent("reader")) == 200
    floor_push, floor_get, floor_fan = (
        client.script_load(s) for s in (FLOOR_PUSH, FLOOR_GET, FLOOR_FAN)
    )
    floor_root = "floor:{u:floor}:"
    root, fan_root = mesh.operations.keys.root, fan.operations.keys.root
    packed = encode_value(VALUE, 2**20, "floor")
    server = Server(client)
    names = (
        "push",
        "floor_push",
        "raw_push",
        "get",
        "floor_get",
        "raw_get",
        "visible",
        "floor_fan",
        "push_many",
    )
    costs = {name: Cost(name) for name in names}
    # short blocks, many rounds: the load of a shared machine swings within seconds
    n, fans, seq = 300, 20, iter(range(10**9))
    visible_keys = [f"item-{i}" for i in range(1, items, 7)]  # topic t1: the reader's
    item_keys = [f"{root}item:{k}" for k in visible_keys]
    batches = 3

    def push_block() -> None:
        for _ in range(n):
            i = next(seq)
            mesh.push(f"new-{i}", VALUE, topics=[f"t{i % 7}", f"u{i % 11}"], ttl=TTL)

    def floor_push_block() -> None:
        for _ in range(n):
            i = next(seq)
            now = int(time.time() * 1000)
            client.evalsha(
                floor_push,
                1,
                floor_root,
                f"new-{i}",
                packed,
                "",
                now,
                now + TTL * 1000,
                f"t{i % 7},u{i % 11}",
                f"{i * 2654435761:016x}",
            )

    def raw_push_block() -> None:
        for _ in range(n):
            i = next(seq)
            pipe = client.pipeline(transaction=True)
            pipe.hset(f"raw:new:{i}", mapping=raw_fields(i))
            pipe.pexpire(f"raw:new:{i}", TTL * 1000)
            pipe.execute()

    def push_many_block() -> None:
        for _ in range(batches):
            base = next(seq)
            mesh.push_many(
                [
                    {
                        "key": f"many-{base}-{j}",
                        "value": VALUE,
                        "ttl": TTL,
                        "topics": [f"t{j % 7}", f"u{j % 11}"],
                    }
                    for j in range(100)
                ]
            )

    blocks: list[tuple[str, tuple[str, ...], int, Callable[[], object]]] = [
        ("raw_push", ("multi", "exec"), n, raw_push_block),
        ("floor_push", ("evalsha",), n, floor_push_block),
        ("push", ("evalsha",), n, push_block),
        ("push_many", ("evalsha",), batches * 100, push_many_block),
        (
            "raw_get",
            ("hgetall",),
            n,
            lambda: [client.hgetall(item_keys[j % len(item_keys)]) for j in range(n)],
        ),
        (
            "floor_get",
            ("evalsha",),
            n,
            lambda: [
                client.evalsha(floor_get, 1, root, f"item-{1 + 7 * (j % len(item_keys))}")
                for j in range(n)
            ],
        ),
        (
            "get",
            ("evalsha",),
            n,
            lambda: [mesh.get(visible_keys[j % len(visible_keys)], "reader") for j in range(n)],
        ),
        (
            "floor_fan",
            ("evalsha",),
            fans,
            lambda: [client.evalsha(floor_fan, 1, fan_root, "seen") for _ in range(fans)],
        ),
        (
            "visible",
            ("evalsha",),
            fans,
            lambda: [fan.get_all_for_agent("reader") for _ in range(fans)],
        ),
    ]
    for r in range(rounds):
        # alternate the order too: neither side always runs first
        for name, top, ops, block in blocks if r % 2 == 0 else blocks[::-1]:
            server.measure(costs[name], top, ops, block)
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
    n = 200  # short blocks, many of them: a neighbour's burst spoils few

    def raw_push(i: int) -> object:
        pipe = client.pipeline(transaction=True)
        pipe.hset(f"raw:c:{i}", mapping=raw_fields(i))
        pipe.pexpire(f"raw:c:{i}", TTL * 1000)
        return pipe.execute()

    def push(i: int) -> object:
        return mesh.push(f"c{i}", VALUE, topics=["t1", f"u{i % 11}"], ttl=TTL)

    def raw_get(i: int) -> object:
        return client.hgetall(f"{root}item:c{i % n}")

    def get(i: int) -> object:
        return mesh.get(f"c{i % n}", "reader")

    ratios: dict[str, list[float]] = {"push": [], "get": []}
    for what, ours, raw in (("push", push, raw_push), ("get", get, raw_get)):
        for r in range(rounds * 3):
            if r % 2:  # either side first in turn
                ours_rate, raw_rate = rate(ours, n), rate(raw, n)
            else:
                raw_rate, ours_rate = rate(raw, n), rate(ours, n)
            ratios[what].append(ours_rate / raw_rate)
    fan = ContextMesh(user_id="fan", redis_url=url, auto_cleanup=False)
    latencies = []
    for _ in range(rounds * 20):
        start = time.perf_counter()
        fan.get_all_for_agent("reader")
        latencies.append((time.perf_counter() - start) * 1000)
    mesh.close()
    fan.close()
    return {
        "push_ratio": statistics.median(ratios["push"]),
        "get_ratio": statistics.median(ratios["get"]),
        "visible_p50_ms": statistics.median(latencies),
    }


def fleet(costs: dict[str, Cost], mem: dict[str, float]) -> list[str]:
    """A paper fleet from the measured costs: what sets the number of shards.

    A shard's main thread is bound by the server CPU a call costs (INFO cpu: the
    script or command plus reading, parsing and replying), so that is the cost
    used here; the commandstats time alone would overstate a shard."""
    users, items_per_user = 1_000_000, 200
    pushes_per_user_s, reads_per_user_s, fanouts_per_user_s = 0.05, 0.2, 0.02
    busy = 0.5  # keep each shard's main thread at most half busy
    shard_memory = 25 * 2**30
    items = users * items_per_user
    push, get, fan = costs["push"].cpu_usec, costs["get"].cpu_usec, costs["visible"].cpu_usec
    server_s = (
        users * (pushes_per_user_s * push + reads_per_user_s * get + fanouts_per_user_s * fan) / 1e6
    )
    bytes_total = items * mem["item"]
    shards = max(1, round(max(server_s / busy, bytes_total / shard_memory) + 0.49))
    return [
        f"{users:,} users x {items_per_user} items = {items / 1e6:.0f}M items; per user/s: "
        f"{pushes_per_user_s} push, {reads_per_user_s} get, {fanouts_per_user_s} fan-out",
        f"  one shard at {busy:.0%} busy: {busy * 1e6 / push:,.0f} pushes/s or "
        f"{busy * 1e6 / get:,.0f} gets/s or {busy * 1e6 / fan:,.0f} fan-out reads/s; "
        f"25 GiB holds {shard_memory / mem['item'] / 1e6:.1f}M items",
        f"  server CPU {server_s:.1f} core-s per second -> {server_s / busy:.1f} shards at "
        f"{busy:.0%} busy; memory {bytes_total / 2**30:.1f} GiB -> "
        f"{bytes_total / shard_memory:.1f} shards of 25 GiB; needed: {shards}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    server = RedisProcess(extra=("--hash-max-listpack-value", "1024")).start()
    try:
        client = redis.Redis.from_url(server.url)
        info = client.info("server")
        print(
            f"redis-server {info['redis_version']} on 127.0.0.1:{server.port}, "
            f"hash-max-listpack-value 1024; {args.items:,} items, 2 topics, "
            f"160-byte values, ttl {TTL}"
        )
        mem = memory(client, server.url, args.items)
        costs = server_costs(client, server.url, args.items, args.rounds)
        clients = client_side(client, server.url, args.rounds)
    finally:
        server.stop()
    report(costs, mem, clients)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "server_usec": {k: c.usec for k, c in costs.items()},
                    "server_cpu_usec": {k: c.cpu_usec for k, c in costs.items()},
                    "rounds": {k: {"usec": c.per_round, "cpu": c.cpu} for k, c in costs.items()},
                    "nested_calls": {k: c.nested for k, c in costs.items()},
                    "memory": mem,
                    "client": clients,
                },
                indent=2,
            )
        )


def report(costs: dict[str, Cost], mem: dict[str, float], clients: dict[str, float]) -> None:
    c = costs
    floors = [
        ("push vs FLOOR_PUSH", c["push"], c["floor_push"], "<= 1.5x"),
        ("get(key, agent) vs FLOOR_GET", c["get"], c["floor_get"], "<= 1.3x"),
        ("get_all_for_agent 200/2,200 vs FLOOR_FAN", c["visible"], c["floor_fan"], "<= 1.5x"),
        ("push_many(100) per item vs FLOOR_PUSH", c["push_many"], c["floor_push"], "<= 0.4x"),
    ]
    rounds = len(c["push"].per_round)
    print(
        f"\nscript time per operation (INFO commandstats usec of EVALSHA; median of {rounds} "
        "alternating rounds; a ratio is the median of the rounds' ratios)"
    )
    print(f"{'operation':<42} {'ours':>8}  {'floor':>8}  {'ratio':>6}  target")
    for name, ours, floor, target in floors:
        print(
            f"{name:<42} {ours.usec:>6.1f}µs  {floor.usec:>6.1f}µs  "
            f"{ours.ratio(floor):5.2f}x  {target}"
        )
    print(
        f"{'memory per item, retry records expired':<42} {mem['item']:>7.0f}B  "
        f"{mem['raw_item']:>7.0f}B  {mem['item'] / mem['raw_item']:5.2f}x  <= 750 B "
        "(floor: a bare hash + PEXPIRE)"
    )
    print(f"{'one retry record, while it lives':<42} {mem['retry_record']:>7.0f}B")
    print(
        "  where an item's bytes go (MEMORY USAGE; the rest is Redis's per-key overhead): "
        + ", ".join(
            f"{k.removeprefix('part:')} {v:.0f} B" for k, v in mem.items() if k.startswith("part:")
        )
    )
    print(
        "\nserver CPU per operation (INFO cpu, user + sys of redis-server: includes reading, "
        "parsing and replying)"
    )
    for name, ours, raw in (
        ("push vs raw MULTI{HSET; PEXPIRE}", c["push"], c["raw_push"]),
        ("get(key, agent) vs HGETALL", c["get"], c["raw_get"]),
        ("FLOOR_PUSH vs raw MULTI", c["floor_push"], c["raw_push"]),
        ("get_all_for_agent vs FLOOR_FAN", c["visible"], c["floor_fan"]),
        ("push_many(100) per item vs raw MULTI", c["push_many"], c["raw_push"]),
    ):
        print(
            f"  {name:<40} {ours.cpu_usec:>7.1f}µs vs {raw.cpu_usec:>6.1f}µs  "
            f"{ours.cpu_ratio(raw):5.2f}x"
        )
    print("\nwhat one operation runs inside the server (command calls x µs, per operation):")
    for cost in (c["push"], c["floor_push"], c["get"], c["visible"], c["push_many"]):
        inner = ", ".join(
            f"{k} {n:g}x{u:.2f}"
            for k, (n, u) in sorted(cost.nested.items(), key=lambda kv: -kv[1][1])
        )
        print(f"  {cost.name:<10} {inner}")
    print("\nclient side (same server, alternating blocks)")
    print(f"  push / raw MULTI round trip          {clients['push_ratio']:.2f}x  target >= 0.85x")
    print(f"  get(key, agent) / raw HGETALL        {clients['get_ratio']:.2f}x  target >= 0.9x")
    print(f"  get_all_for_agent p50, 200 visible   {clients['visible_p50_ms']:.2f} ms")
    print("\npaper fleet from these costs")
    for line in fleet(costs, mem):
        print("  " + line)


if __name__ == "__main__":
    main()
