"""Safe retries: a write whose reply is lost is re-sent by redis-py and applied once."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator

import pytest
import redis

from syntha_redis import ContextMesh
from tests.support.proxy import FaultProxy
from tests.support.servers import RedisProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def proxy(private_redis: RedisProcess) -> Iterator[FaultProxy]:
    proxy = FaultProxy(private_redis.port)
    yield proxy
    proxy.close()


def wake_messages(pubsub: redis.client.PubSub, server: redis.Redis, channel: str) -> int:
    """How many wake-ups were published, counted up to a marker we publish now."""
    server.spublish(channel, "marker")
    count = 0
    while True:
        message = pubsub.get_sharded_message(timeout=5)
        assert message is not None, "the marker never arrived"
        if message["type"] != "smessage":
            continue
        if message["data"] == b"marker":
            return count
        count += 1


def test_a_push_whose_reply_is_lost_is_applied_exactly_once(
    private_redis: RedisProcess, proxy: FaultProxy
) -> None:
    mesh = ContextMesh(user_id="u", redis_url=proxy.url, auto_cleanup=False, retries=3)
    direct = redis.Redis.from_url(private_redis.url)
    stream, channel = mesh.operations.keys.stream, mesh.operations.keys.wake_channel
    mesh.push("warm-up", 0)  # loads the script, so the faulted EVALSHA really runs it
    pubsub = direct.pubsub()
    pubsub.ssubscribe(channel)
    assert wake_messages(pubsub, direct, channel) == 0
    version_before = int(direct.get(mesh.operations.keys.root + "ver") or 0)
    length_before = direct.xlen(stream)

    proxy.drop_next_reply(b"EVALSHA")
    version = mesh.push("k", "v")

    assert proxy.dropped == 1  # the reply really was lost, and redis-py re-sent the push
    assert version == version_before + 1
    assert int(direct.get(mesh.operations.keys.root + "ver") or 0) == version_before + 1
    assert direct.xlen(stream) == length_before + 1
    assert wake_messages(pubsub, direct, channel) == 1
    item = mesh.get_item("k")
    assert item is not None and item.version == version


@pytest.mark.parametrize("op_id", ["29933333:0123456789abcdef", "0123456789abcdef0123abcd"],
                         ids=["period-and-random", "older-client"])
def test_a_resent_push_returns_its_first_result_unapplied(
    private_redis: RedisProcess, op_id: str
) -> None:
    """The same EVALSHA twice, as redis-py re-sends it: the second changes nothing.
    Both op-id forms: this library's '<period>:<hex>' (records share per-period
    hashes) and a plain id of an older client (a key per record)."""
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, auto_cleanup=False)
    mesh.push("warm-up", 0)
    call = mesh.operations._script("push", op_id, *mesh.operations._head()[1:],
                             *mesh.operations.item_args("k", "v", topics=["t"], ttl=60))
    first = mesh.store.execute(call)
    again = mesh.store.execute(call)
    assert [int(x) for x in again] == [int(x) for x in first]
    assert mesh.get_item("k").version == int(first[1])  # type: ignore[union-attr]
    direct = redis.Redis.from_url(private_redis.url)
    assert direct.xlen(mesh.operations.keys.stream) == 2  # warm-up and k, once
    records = [n.decode() for n in direct.scan_iter(match=mesh.operations.keys.root + "op:*")]
    assert all(0 < direct.pttl(n) <= 60_000 for n in records)


def test_an_applications_random_seed_never_replays_another_write(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    # operation ids come from the library's own generator: an application (or a
    # test framework) seeding the global one must not make two writes share an id,
    # which would answer the second with the first's result, unapplied
    mesh = mesh_factory()
    for key in ("a", "b"):
        random.seed(42)
        mesh.push(key, key)
    assert (mesh.get("a"), mesh.get("b")) == ("a", "b")
    # nor a forked child's ids its parent's (both would draw from the same state)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, mesh.operations._head()[0].encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    os.close(write_end)
    assert child != mesh.operations._head()[0]
