"""The worst single command of each heavy call, from SLOWLOG, at 200k items.

    python benchmarks/bench_heavy_calls.py [--items 200000] [--json out.json]

Starts a private redis-server on a free loopback port with every command in
SLOWLOG (``slowlog-log-slower-than 0``), stores ``--items`` items of one user
through the library for each heavy call, then runs the call once and reads
the slowest command it sent (SLOWLOG counts top-level commands: one EVALSHA
covers every command its script ran). Meanwhile another user ("bob") reads
one item in a loop; his worst ``get`` round trip is shown next to it.

The calls: ``delete_topic`` of a topic holding every item, ``get_all_for_agent``
of an agent that sees every item, ``clear``, ``cleanup_expired`` and a raw
``cleanup.lua`` EVALSHA asking to prune 10^9 expired items at once (the script
holds it to the deployment's prune batch), and ``push`` of a value of 250,000
elements (the script walks its encoding). The issue's figures before chunking:
delete_topic 3,678 ms, get_all_for_agent 1,213 ms, clear 124 ms per 10k chunk,
raw cleanup 1,382 ms.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from syntha_redis.core.scripts import SCRIPTS  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

BATCH = 1000  # items per push_many while loading


class Bob:
    """Another user reading one item in a loop: his worst round trip."""

    def __init__(self, url: str) -> None:
        self.mesh = ContextMesh(user_id="bob", redis_url=url, key_prefix="bench",
                                max_items_per_user=0, auto_cleanup=False)
        self.mesh.push("note", "hello")
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            self.mesh.get("note")
            self.worst = max(self.worst, time.perf_counter() - start)

    def __enter__(self) -> Bob:
        self.worst = 0.0
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load(mesh: ContextMesh, items: int, **fields: Any) -> None:
    for start in range(0, items, BATCH):
        mesh.push_many([{"key": f"k{i}", "value": {"n": i, "text": "x" * 40}, **fields}
                        for i in range(start, min(items, start + BATCH))])


def measure(client: redis.Redis, bob: Bob, call: Callable[[], Any]) -> dict[str, float]:
    """Run ``call`` with an empty SLOWLOG: its slowest command and command count."""
    client.slowlog_reset()
    start = time.perf_counter()
    with bob:
        call()
    wall = time.perf_counter() - start
    entries = [e for e in client.slowlog_get(1_000_000)
               if e["command"].split()[0].upper() in (b"EVALSHA", b"EVAL")]
    worst = max((e["duration"] for e in entries), default=0)
    return {"worst_command_ms": worst / 1000, "scripts": len(entries), "wall_s": wall,
            "bob_worst_get_ms": bob.worst * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the cut reads warn, as they should
    server = RedisProcess(extra=("--slowlog-log-slower-than", "0",
                                 "--slowlog-max-len", "1000000")).start()
    results: dict[str, dict[str, float]] = {}
    try:
        client = redis.Redis.from_url(server.url)
        bob = Bob(server.url)
        n = args.items

        def mesh(user: str) -> ContextMesh:
            # the bench deployment has no item quota: it stores n items per user
            return ContextMesh(user_id=user, redis_url=server.url, key_prefix="bench",
                               max_items_per_user=0, auto_cleanup=False)

        topic = mesh("topic")
        load(topic, n, topics=["t"])
        results["delete_topic"] = measure(client, bob, lambda: topic.delete_topic("t"))

        reader = mesh("reader")
        load(reader, n, topics=["t"])
        reader.subscribe_to_topics("agent", ["t"])
        results["get_all_for_agent"] = measure(client, bob,
                                               lambda: reader.get_all_for_agent("agent"))
        results["clear"] = measure(client, bob, reader.clear)

        ttl = 20.0
        expiring = mesh("expiring")
        loaded = time.monotonic()
        load(expiring, n, ttl=ttl)
        time.sleep(max(0.0, ttl + 1 - (time.monotonic() - loaded)))
        ops = expiring.operations
        head = list(ops._head())
        head[-1] = 10**9  # the prune batch a raw caller asks for
        client.script_load(SCRIPTS["cleanup"].source)
        results["cleanup raw prune batch 1e9"] = measure(
            client, bob, lambda: client.evalsha(SCRIPTS["cleanup"].sha, 1, ops.keys.root, *head))
        results["cleanup_expired"] = measure(client, bob, expiring.cleanup_expired)

        big = mesh("big")
        results["push 250k elements"] = measure(
            client, bob, lambda: big.push("big", list(range(249_999))))
        results["push_many 1000 items"] = measure(client, bob, lambda: load(big, BATCH))
    finally:
        server.stop()
    width = max(map(len, results))
    print(f"{'call':<{width}}  worst command  scripts  wall    bob's worst get")
    for name, r in results.items():
        print(f"{name:<{width}}  {r['worst_command_ms']:>10.1f} ms  {r['scripts']:>7.0f}  "
              f"{r['wall_s']:>5.1f} s  {r['bob_worst_get_ms']:>8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps({"items": args.items, "results": results}, indent=2))


if __name__ == "__main__":
    main()
