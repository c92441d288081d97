"""What the mesh counts stays true after crashes: expired items are never counted,
their index entries go away while any worker runs, and clear() leaves nothing behind."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable

import redis

from syntha_redis import ContextMesh
from syntha_redis.live.sweeper import Sweeper
from tests.support.servers import RedisProcess

SPAWN = mp.get_context("spawn")


def test_expired_items_count_toward_no_quota_before_any_sweep(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(max_items_per_user=10, prune_batch=1, auto_cleanup=False)
    mesh.push_many([{"key": f"old{i}", "value": i, "ttl": 0.05} for i in range(10)])
    time.sleep(0.1)
    assert mesh.size() == 0
    assert mesh.get_stats()["active_items"] == 0
    versions = mesh.push_many([{"key": f"new{i}", "value": i} for i in range(10)])
    assert len(versions) == 10 and mesh.size() == 10


# Long enough that no item expires (and is pruned by a later push) before the
# last one is written, however loaded the machine: the test counts them all.
TTL = 3.0


def _push_and_die(url: str, prefix: str, count: int) -> None:
    mesh = ContextMesh(user_id="gone", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    for start in range(0, count, 1000):
        mesh.push_many([{"key": f"k{i}", "value": "x" * 100, "topics": ["t"], "ttl": TTL}
                        for i in range(start, start + 1000)])
    os._exit(0)  # no close(), no sweep: as a killed worker leaves it


def test_a_dead_users_expired_items_leave_the_indexes_while_any_worker_runs(
    private_redis: RedisProcess,
) -> None:
    url, prefix, count = private_redis.url, "fleet", 5_000
    child = SPAWN.Process(target=_push_and_die, args=(url, prefix, count))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    raw = redis.Redis.from_url(url)
    root = f"{prefix}:{{u:gone}}:"
    assert raw.zcard(root + "exp") == count
    full = int(raw.info("memory")["used_memory"])
    # another user's worker, in another process than the one that pushed
    other = ContextMesh(user_id="alive", redis_url=url, key_prefix=prefix,
                        cleanup_interval=0.5)
    other.push("hello", 1)
    started = time.monotonic()
    while raw.zcard(root + "exp") or raw.scard(root + "items"):
        assert time.monotonic() - started < 15, "expired items still indexed"
        time.sleep(0.1)
    took = time.monotonic() - started
    left = int(raw.info("memory")["used_memory"])
    print(f"\n{count} expired items of a dead process unindexed in {took:.1f}s; "
          f"used_memory {full / 1e6:.1f} MB -> {left / 1e6:.1f} MB")
    assert raw.scard(root + "titems:t") == 0 and int(raw.get(root + "bytes") or 0) == 0
    other.close()


def test_the_fleet_sweep_runs_in_one_process_per_interval(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(auto_cleanup=False, cleanup_interval=30)
    mesh.push("brief", 1, ttl=0.05)
    time.sleep(0.1)
    first, second = Sweeper(), Sweeper()
    assert first.sweep_registered(mesh.settings) == {
        (mesh.settings.redis_url, mesh.settings.key_prefix, "user-1"): 1}
    assert second.sweep_registered(mesh.settings) == {}  # the lease is taken this interval


def test_clear_leaves_only_what_a_new_write_needs(
    mesh_factory: Callable[..., ContextMesh], raw: redis.Redis, key_prefix: str
) -> None:
    mesh = mesh_factory(auto_cleanup=False)
    mesh.register_agent_topics("a", ["t1", "t2"])
    mesh.set_agent_post_permissions("a", ["t1"])
    mesh.push("k1", 1, topics=["t1"], agent_name="a")
    mesh.push("k2", 2, subscribers=["b"], ttl=60)
    mesh.push("k3", 3)
    mesh.push("k4", 4, ttl=0.05)
    time.sleep(0.1)
    mesh.clear()
    root = f"{key_prefix}:{{u:user-1}}:"
    names = {k.decode() for k in raw.scan_iter(match=f"{key_prefix}:*")}
    assert names - {n for n in names if n.startswith(root)} == {
        f"{key_prefix}:{{registry}}:joins", f"{key_prefix}:{{limits}}"}
    left = {n[len(root):] for n in names if n.startswith(root)}
    retry_records = {name for name in left if name.startswith("op:")}
    # the version counter (versions stay monotonic), the change stream (the
    # 'cleared' event), the copy of the limits, retry records (they expire in
    # operation_ttl_seconds)
    assert left - retry_records <= {"ver", "events", "limits"}
    assert mesh.size() == 0
    assert mesh.push("k1", "again") > 0 and mesh.get("k1") == "again"
