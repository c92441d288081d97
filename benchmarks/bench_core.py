"""Core mesh speed and memory, each figure next to a raw baseline measured in the same run.

    python benchmarks/bench_core.py [--redis-url redis://127.0.0.1:6379/0] [--rounds 3]

Raw baselines do the same server-side work without the library: an EVALSHA of the
same script with the same arguments (including msgpack encoding and an operation
id), or a plain HGETALL. Rounds alternate library and baseline so both see the
same CPU placement (round trips on a 2-vCPU VM swing ~2x with placement); each
figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgpack
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from syntha_redis.core.scripts import SCRIPTS  # noqa: E402

VALUE = {"customer": "acme", "amount": 120_000, "notes": "x" * 150, "tags": ["a", "b"]}


def rate(fn: Callable[[int], object], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def compare(name: str, ours: Callable[[int], object], raw: Callable[[int], object], n: int,
            rounds: int, rows: list[tuple[str, float, float]]) -> None:
    """Alternate short blocks of both, so CPU placement changes hit both alike;
    the ratio is the median of the per-block ratios."""
    blocks = rounds * 5
    size = max(10, n // 5)
    ours_rates, raw_rates = [], []
    for _ in range(blocks):
        raw_rates.append(rate(raw, size))
        ours_rates.append(rate(ours, size))
    ratio = statistics.median(o / r for o, r in zip(ours_rates, raw_rates, strict=True))
    ours_med, raw_med = statistics.median(ours_rates), statistics.median(raw_rates)
    rows.append((name, ours_med, raw_med))
    print(f"{name:<44} {ours_med:>10,.0f}/s {raw_med:>10,.0f}/s {ratio:>7.2f}x", flush=True)


def bench_backend(
    label: str, url: str | None, n: int, rounds: int
) -> list[tuple[str, float, float]]:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    mesh = ContextMesh(user_id="bench", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    mesh.push("warm-up", 0)  # provisions the user's copy of the limits the scripts read
    client = mesh.store.client
    ops = mesh.operations
    root = ops.keys.root
    push, get, visible = SCRIPTS["push"], SCRIPTS["get"], SCRIPTS["visible"]
    for script in (push, get, visible):
        client.script_load(script.source)
    head_tail = ops._head_tail
    rows: list[tuple[str, float, float]] = []
    print(f"\n[{label}] {'operation':<34} {'ours':>12} {'raw':>12} {'ratio':>8}")

    def raw_push(i: int) -> object:
        return client.evalsha(push.sha, 1, root, uuid.uuid4().hex, *head_tail, 100,
                              f"k{i}", msgpack.packb(VALUE), "", "sales", "", 0, "")

    compare("push (1 topic)", lambda i: mesh.push(f"k{i}", VALUE, topics=["sales"]),
            raw_push, n, rounds, rows)
    mesh.register_agent_topics("analyst", ["sales"])

    def raw_get(i: int) -> object:
        reply = client.evalsha(get.sha, 1, root, f"k{i % n}", "analyst")
        return msgpack.unpackb(reply[1])

    compare("get for an agent (access-checked)", lambda i: mesh.get(f"k{i % n}", "analyst"),
            raw_get, n, rounds, rows)
    compare("get vs raw HGETALL", lambda i: mesh.get(f"k{i % n}"),
            lambda i: msgpack.unpackb(client.hgetall(f"{root}item:k{i % n}")[b"value"]),
            n, rounds, rows)

    mesh.clear()
    mesh.register_agent_topics("analyst", ["t1", "t2"])
    for i in range(200):
        mesh.push(f"v{i}", VALUE, topics=[f"t{i % 3}"] if i % 3 else [])
    for i in range(2000):  # items the agent must not see
        mesh.push(f"other{i}", VALUE, subscribers=["someone-else"])

    def raw_visible(i: int) -> object:
        reply = client.evalsha(visible.sha, 1, root, "analyst", 10_000, "1")
        return [msgpack.unpackb(reply[j + 1]) for j in range(2, len(reply), 8)]

    count = len(mesh.get_all_for_agent("analyst"))
    compare(f"get_all_for_agent ({count} visible of 2,200)",
            lambda i: mesh.get_all_for_agent("analyst"), raw_visible,
            max(50, n // 20), rounds, rows)

    growth = []
    for stored in (0, 20_000):
        mesh.clear()
        if stored:
            pipe = client.pipeline(transaction=False)
            for i in range(stored):
                pipe.evalsha(push.sha, 1, root, "", *head_tail, 100, f"fill{i}",
                             msgpack.packb(VALUE), "", "sales", "", 0, "")
                if i % 500 == 499:
                    pipe.execute()
            pipe.execute()
        growth.append(statistics.median(
            rate(lambda i: mesh.push(f"g{i}", VALUE, topics=["sales"]), n) for _ in range(rounds)))
    print(f"{'push rate with 0 vs 20,000 stored items':<44} {growth[0]:>10,.0f}/s "
          f"{growth[1]:>10,.0f}/s {growth[1] / growth[0]:>7.2f}x")
    mesh.clear()
    for name in client.scan_iter(match=f"{prefix}:*"):
        client.delete(name)
    return rows


def bench_metrics(url: str | None, n: int, rounds: int) -> None:
    """Push with Prometheus metrics on vs off (Settings.metrics_enabled)."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    on, off = (ContextMesh(user_id="bench", redis_url=url, key_prefix=prefix,
                           auto_cleanup=False, metrics_enabled=enabled)
               for enabled in (True, False))
    print(f"\n[{url or 'embedded'}] {'metrics':<34} {'on':>12} {'off':>12} {'ratio':>8}")
    compare("push (1 topic), metrics on vs off",
            lambda i: on.push(f"k{i}", VALUE, topics=["sales"]),
            lambda i: off.push(f"k{i}", VALUE, topics=["sales"]), n, rounds, [])
    off.clear()
    client = off.store.client
    for name in client.scan_iter(match=f"{prefix}:*"):
        client.delete(name)


def bench_syntha(n: int) -> None:
    try:
        import syntha
    except ImportError:
        print("\n[syntha] not installed (pip install -e '.[bench]')")
        return
    mesh = syntha.ContextMesh(enable_persistence=False, user_id="bench")
    mesh.register_agent_topics("analyst", ["sales"])
    for i in range(10_000):
        mesh.push(f"pre{i}", VALUE, topics=["sales"])
    push = rate(lambda i: mesh.push(f"k{i}", VALUE, topics=["sales"]), n)
    get = rate(lambda i: mesh.get(f"k{i % n}", "analyst"), n)
    print(f"\n[syntha {syntha.__version__ if hasattr(syntha, '__version__') else ''} in-process, "
          f"10k items] push {push:,.0f}/s  get {get:,.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        redis.Redis.from_url(args.redis_url).ping()
        bench_backend(f"redis {args.redis_url}", args.redis_url, args.n, args.rounds)
        bench_metrics(args.redis_url, args.n, args.rounds)
    except redis.ConnectionError:
        print(f"Redis at {args.redis_url} is not reachable; skipping the server figures")
    bench_backend("embedded fakeredis", None, max(300, args.n // 5), args.rounds)
    bench_syntha(args.n)


if __name__ == "__main__":
    main()
