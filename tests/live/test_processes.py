"""The live mesh across processes, on a real Redis: the change feed under
concurrent writers, compare-and-set under contention, a killed pub/sub link."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from syntha_redis import ContextMesh, SynthaConflictError
from tests.conftest import delete_prefix
from tests.support.servers import RedisProcess

pytestmark = pytest.mark.slow

WRITERS = 2
PUSHES = 1000
FORK = mp.get_context("fork")


@pytest.fixture
def prefix(machine_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    delete_prefix(machine_url, name)


def routing(writer: int, i: int) -> dict[str, Any]:
    """A third on the watcher's topic, a third to someone else, a third global."""
    return [{"topics": ["seen"]}, {"subscribers": ["someone-else"]}, {}][(writer + i) % 3]


def write(url: str, prefix: str, writer: int) -> None:
    mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    for i in range(PUSHES):
        mesh.push(f"w{writer}-{i}", i, **routing(writer, i))


def watch(url: str, prefix: str, since: str, expected: int, out: Any) -> None:
    mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    got = []
    for event in mesh.watch("watcher", since=since, timeout=30):
        got.append((event.type, event.key, event.version, event.event_id))
        if len(got) == expected:
            break
    out.put(got)


def test_watcher_process_sees_every_visible_event_in_order(machine_url: str, prefix: str) -> None:
    mesh = ContextMesh(user_id="u", redis_url=machine_url, key_prefix=prefix, auto_cleanup=False)
    mesh.register_agent_topics("watcher", ["seen"])
    start = mesh.watch("watcher", timeout=0)
    list(start)
    visible = {
        f"w{w}-{i}" for w in range(WRITERS) for i in range(PUSHES) if routing(w, i) != {
            "subscribers": ["someone-else"]}
    }
    out = FORK.Queue()
    args = (machine_url, prefix, start.cursor, len(visible), out)
    watcher = FORK.Process(target=watch, args=args)
    watcher.start()
    writers = [FORK.Process(target=write, args=(machine_url, prefix, w)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    got = out.get(timeout=60)
    for p in [*writers, watcher]:
        p.join(timeout=30)
        assert p.exitcode == 0
    keys = [key for _, key, _, _ in got]
    assert len(keys) == len(set(keys)) == len(visible)  # nothing duplicated
    assert set(keys) == visible  # nothing missing, nothing invisible leaked
    assert all(t == "pushed" for t, *_ in got)
    versions = [v for _, _, v, _ in got]
    ids = [i for *_, i in got]
    assert versions == sorted(versions) and ids == sorted(ids, key=lambda i: tuple(
        int(p) for p in i.split("-")))
    for w in range(WRITERS):  # each writer's own pushes arrive in the order made
        mine = [int(k.split("-")[1]) for k in keys if k.startswith(f"w{w}-")]
        assert mine == sorted(mine)


def increment(url: str, prefix: str, times: int) -> None:
    mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    done = 0
    while done < times:
        item = mesh.get_item("counter")
        assert item is not None
        try:
            mesh.push("counter", item.value + 1, expected_version=item.version)
            done += 1
        except SynthaConflictError:
            continue  # someone else won this round: read again and retry


def test_compare_and_set_under_four_incrementers_loses_no_update(
    machine_url: str, prefix: str
) -> None:
    mesh = ContextMesh(user_id="u", redis_url=machine_url, key_prefix=prefix, auto_cleanup=False)
    mesh.push("counter", 0, expected_version=0)
    workers = [FORK.Process(target=increment, args=(machine_url, prefix, 250)) for _ in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert mesh.get("counter") == 1000


def test_killing_the_pubsub_connection_mid_stream_loses_nothing(
    private_redis: RedisProcess,
) -> None:
    url = private_redis.url
    # polling so slow that only a working re-subscription can deliver in time
    mesh = ContextMesh(user_id="u", redis_url=url, watch_poll_interval=60, auto_cleanup=False)
    start = mesh.watch("a", timeout=0)
    list(start)
    got: list[str] = []

    def consume() -> None:
        for event in mesh.watch("a", since=start.cursor, timeout=30):
            got.append(event.key or "")
            if len(got) == 200:
                return

    reader = threading.Thread(target=consume)
    reader.start()
    admin = redis.Redis.from_url(url)
    started = time.monotonic()
    for i in range(200):
        if i in (50, 120):
            deadline = time.monotonic() + 10
            while admin.client_kill_filter(_type="pubsub") == 0:  # the reader is subscribed
                assert time.monotonic() < deadline
        mesh.push(f"k{i}", i)
        if i % 20 == 0:
            time.sleep(0.01)  # let the reader catch up and go back to sleeping on pub/sub
    reader.join(timeout=40)
    assert got == [f"k{i}" for i in range(200)]
    assert time.monotonic() - started < 20
