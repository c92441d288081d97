"""Ideas of issue 14 that the code does not (yet) use, each measured on its own.

    python benchmarks/bench_ideas.py [--items 20000]

Starts a private redis-server (``hash-max-listpack-value 1024``) on a free loopback
port and measures, each against what the mesh does today:

- Redis Functions instead of EVALSHA: a get(key, agent) whose helpers are defined
  once when the library loads (FCALL) against get.lua (EVALSHA), and what the
  definitions shared by push cost every EVALSHA;
- packed metadata: an item hash of 7 fields against value + one packed field;
- one index for the items set and the expiry zset: a SADD + ZADD per item
  against one ZADD;
- retry records in a compact per-user structure: a key per record (SET PX, as
  before issue 14) against fields of 256 per-user hashes per period (HSET +
  PEXPIRE, what lua/_prelude.lua does now), bytes and µs.

Server times are INFO commandstats µs per call (median of rounds); memory is
used_memory growth per item.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import msgpack
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syntha_redis.core.scripts import SCRIPTS, lua_dir  # noqa: E402
from tests.support.servers import RedisProcess  # noqa: E402

ROOT = "syntha:{u:ideas}:"
VALUE = msgpack.packb("v" * 158)
LIBRARY = """#!lua name=syntha_ideas
local function may_see(root, agent, topics, subs)
  if agent == '' or (topics == '' and subs == '') then return true end
  if subs ~= '' and string.find(',' .. subs .. ',', ',' .. agent .. ',', 1, true) then
    return true
  end
  for t in string.gmatch(topics, '[^,]+') do
    if redis.call('ZSCORE', root .. 'atopics:' .. agent, t) then return true end
  end
  return false
end
redis.register_function('get_v', function(keys, args)
  local h = redis.call('HMGET', keys[1] .. 'item:' .. args[1], 'value', 'topics', 'subs')
  if h[1] and may_see(keys[1], args[2], h[2], h[3]) then return h[1] end
  return false
end)
redis.register_function('nothing', function(keys, args) return 1 end)
"""


def usec(client: redis.Redis, command: str, calls: Callable[[], object], rounds: int) -> float:
    per = []
    for _ in range(rounds):
        client.config_resetstat()
        calls()
        per.append(client.info("commandstats")[f"cmdstat_{command}"]["usec_per_call"])
    return statistics.median(per)


def grown(client: redis.Redis, fill: Callable[[], object], items: int) -> float:
    before = int(client.info("memory")["used_memory"])
    fill()
    return (int(client.info("memory")["used_memory"]) - before) / items


def functions(client: redis.Redis, rounds: int) -> None:
    client.function_load(LIBRARY, replace=True)
    get = client.script_load(SCRIPTS["get"].source)
    prelude = (lua_dir() / "_prelude.lua").read_text()
    push_head = SCRIPTS["push"].source
    push_head = push_head[: push_head.index("local prior = replayed()")] + "\nreturn 1"
    head = client.script_load(push_head)
    bare = client.script_load("return 1")
    client.zadd(ROOT + "atopics:reader", {"t1": 1})  # an agent's topics, in order
    for i in range(1000):
        client.hset(f"{ROOT}item:k{i}", mapping={"value": VALUE, "topics": "t1,u1", "subs": ""})
    n = 2000
    fcall = usec(client, "fcall", lambda: [client.fcall("get_v", 1, ROOT, f"k{i % 1000}",
                                                         "reader") for i in range(n)], rounds)
    evalsha = usec(client, "evalsha", lambda: [client.evalsha(get, 1, ROOT, f"k{i % 1000}",
                                                               "reader", "v")
                                               for i in range(n)], rounds)
    args = (os.urandom(8).hex(), 10000, 1, 1, 1, 100, "k", VALUE, "", "t1", "", 0, "")
    with_head = usec(client, "evalsha", lambda: [client.evalsha(head, 1, ROOT, *args)
                                                 for _ in range(n)], rounds)
    without = usec(client, "evalsha", lambda: [client.evalsha(bare, 1, ROOT, *args)
                                               for _ in range(n)], rounds)
    empty = usec(client, "fcall", lambda: [client.fcall("nothing", 1, ROOT, *args)
                                           for _ in range(n)], rounds)
    print(f"{'Functions: get(key, agent) FCALL / EVALSHA':<52} {fcall:6.2f} / {evalsha:6.2f} µs")
    print(f"{'  shared definitions of push, per EVALSHA':<52} {with_head - without:6.2f} µs "
          f"(an empty FCALL: {empty:.2f}, an empty EVALSHA: {without:.2f}; prelude "
          f"{len(prelude):,} chars)")


def packed(client: redis.Redis, items: int) -> None:
    fields = {"value": VALUE, "version": 1796000000000001, "author": "",
              "created": 1796000000000, "expires": 1796003600000, "topics": "t1,u1",
              "subs": ""}
    meta = "1796000000000001||1796000000000|1796003600000|t1,u1|"

    def fill(packed_meta: bool) -> Callable[[], None]:
        def run() -> None:
            pipe = client.pipeline(transaction=False)
            for i in range(items):
                key = f"{ROOT}{'p' if packed_meta else 'h'}:{i}"
                if packed_meta:
                    pipe.hset(key, mapping={"value": VALUE, "meta": meta})
                else:
                    pipe.hset(key, mapping=fields)
                pipe.pexpire(key, 3_600_000)
            pipe.execute()
        return run

    seven, two = grown(client, fill(False), items), grown(client, fill(True), items)
    print(f"{'packed metadata: item hash, 7 fields / value + meta':<52} {seven:6.0f} / "
          f"{two:6.0f} B per item")


def one_index(client: redis.Redis, items: int) -> None:
    def fill(both: bool) -> Callable[[], None]:
        def run() -> None:
            pipe = client.pipeline(transaction=False)
            tag = "b" if both else "z"
            for i in range(items):
                if both:
                    pipe.sadd(f"{ROOT}{tag}items", f"key-{i}")
                pipe.zadd(f"{ROOT}{tag}exp", {f"key-{i}": 1796003600000 + i})
            pipe.execute()
        return run

    two, one = grown(client, fill(True), items), grown(client, fill(False), items)
    print(f"{'one index: items set + expiry zset / one zset':<52} {two:6.0f} / {one:6.0f} "
          "B per item")


RECORD = "1|1796000000000001|1796000000000|1796003600000"
SET_RECORD = "redis.call('SET', KEYS[1] .. 'op:' .. ARGV[1], ARGV[2], 'PX', 60000) return 1"
BUCKET_RECORD = """local b = KEYS[1] .. 'op:' .. ARGV[3]
redis.call('HSET', b, ARGV[1], ARGV[2])
redis.call('PEXPIRE', b, 60000)
return 1"""


def retry_records(client: redis.Redis, items: int, rounds: int) -> None:
    per_key = client.script_load(SET_RECORD)
    bucketed = client.script_load(BUCKET_RECORD)
    root = "syntha:{u:records}:"

    def fill(sha: str, period: str) -> Callable[[], None]:
        def run() -> None:
            pipe = client.pipeline(transaction=False)
            for _ in range(items):
                # 64 random bits name an operation; its first two hex digits pick
                # one of 256 hashes of the period, small enough for listpacks
                op = os.urandom(8).hex()
                field = op if period == "0" else op[2:]
                pipe.evalsha(sha, 1, root, field, RECORD, f"{period}:{op[:2]}")
            pipe.execute()
        return run

    keyed = grown(client, fill(per_key, "0"), items)
    hashed = grown(client, fill(bucketed, "1"), items)
    n = 2000
    set_us = usec(client, "evalsha", lambda: [client.evalsha(
        per_key, 1, root, os.urandom(8).hex(), RECORD, "0") for _ in range(n)], rounds)
    hash_us = usec(client, "evalsha", lambda: [client.evalsha(
        bucketed, 1, root, op[2:], RECORD, f"1:{op[:2]}")
        for op in (os.urandom(8).hex() for _ in range(n))], rounds)
    print(f"{'retry record: key per record / per-period hashes':<52} {keyed:6.0f} / "
          f"{hashed:6.0f} B per record; {set_us:.2f} / {hash_us:.2f} µs per write "
          f"({items:,} records in one period)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = RedisProcess(extra=("--hash-max-listpack-value", "1024")).start()
    try:
        client = redis.Redis.from_url(server.url)
        print(f"ideas, measured alone on a private redis-server ({args.items:,} items)")
        functions(client, args.rounds)
        packed(client, args.items)
        one_index(client, args.items)
        retry_records(client, args.items, args.rounds)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
