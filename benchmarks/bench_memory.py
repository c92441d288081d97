"""Memory per stored item, all-in (item hash, expiry index, topic sets, stream share).

    python benchmarks/bench_memory.py [--items 20000]

Starts two private redis-servers on free loopback ports (default config, and
``hash-max-listpack-value 1024`` as the README recommends), pushes the same items
through the library into each and reports INFO used_memory growth per item.
The per-user change stream is capped (stream_max_length), so its share falls as
items grow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis import ContextMesh  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

VALUE = {"customer": "acme", "amount": 120_000, "notes": "x" * 150}  # ~190 B msgpack


def used(url: str) -> int:
    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


def measure(extra: tuple[str, ...], items: int) -> tuple[float, float]:
    """(bytes per item just after the pushes, and once the retry records expired)."""
    server = RedisProcess(extra=extra).start()
    try:
        mesh = ContextMesh(user_id="mem", redis_url=server.url, auto_cleanup=False)
        mesh.push("warm-up", 1)
        before = used(server.url)
        for i in range(items):
            mesh.push(f"item-{i}", VALUE, topics=[f"t{i % 7}", f"t{i % 11}"], ttl=3600)
        fresh = (used(server.url) - before) / items
        # the per-operation retry records expire after operation_ttl_seconds;
        # delete them now instead of waiting (private server, our own names)
        client = redis.Redis.from_url(server.url)
        for name in client.scan_iter(match=mesh.operations.keys.root + "op:*", count=5000):
            client.delete(name)
        return fresh, (used(server.url) - before) / items
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    print(f"bytes per item, 2 topics + TTL, {args.items:,} items of ~190 B"
          "   (just pushed / steady state)")
    for label, extra in (("default config", ()),
                         ("hash-max-listpack-value 1024", ("--hash-max-listpack-value", "1024"))):
        fresh, steady = measure(extra, args.items)
        print(f"  {label:<32} {fresh:8.0f} / {steady:5.0f}")


if __name__ == "__main__":
    main()
