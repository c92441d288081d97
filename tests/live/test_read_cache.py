"""The client-side read cache (``Settings.read_cache_entries``): repeated reads
cost Redis nothing, and every guarantee of ``syntha_redis.core.read_cache``
holds on a single Redis and on a Cluster, sync and async, across processes."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import time
import uuid
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest
import redis

from syntha_redis import AsyncContextMesh, ContextMesh
from syntha_redis.core import tracking
from syntha_redis.core.read_cache import MISS, ReadCache
from tests.conftest import delete_prefix
from tests.support.recording import RecordingStore
from tests.support.servers import RedisProcess

FORK = mp.get_context("fork")
TRIALS = 50  # cross-process trials here; benchmarks/bench_cache.py runs 1,000
SEEN_WITHIN = 0.5  # s: generous on a loaded machine; the benchmark measures the real figure


@pytest.fixture(autouse=True)
def trackers_closed() -> Iterator[None]:
    """Each test's tracking connections end with it (a process normally keeps them)."""
    yield
    tracking.detach_all()


@pytest.fixture(params=["redis", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "cluster":
        return str(request.getfixturevalue("cluster_url"))
    return str(request.getfixturevalue("machine_url"))


@pytest.fixture
def prefix(url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    delete_prefix(url, name)


@pytest.fixture
def cached(url: str, prefix: str) -> Iterator[Callable[..., ContextMesh]]:
    made: list[ContextMesh] = []

    def make(**options: Any) -> ContextMesh:
        options.setdefault("read_cache_entries", 100)
        mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, auto_cleanup=False,
                           **options)
        made.append(mesh)
        return mesh

    yield make
    for mesh in made:
        mesh.close()


def sent_by(mesh: ContextMesh, read: Callable[[], Any]) -> tuple[Any, int]:
    """What ``read`` returned, and how many calls it sent to Redis.

    Right after a write, a read may be sent twice: Redis's own announcement of
    the write can come after the first read was kept, and drop it. Tests wait
    for the read to be served here (``eventually``) before counting."""
    store = RecordingStore.of(mesh)
    result = read()
    return result, len(store.sent)


# -- the cache alone ------------------------------------------------------------------


def live_cache(entries: int = 3) -> ReadCache:
    cache = ReadCache(entries)
    cache.reset(live=True)
    return cache


def test_an_entry_past_its_expiry_is_not_served() -> None:
    cache = live_cache()
    cache.put(cache.ticket(), "r:", ("r:", "a"), "soon", time.time() + 0.05)
    cache.put(cache.ticket(), "r:", ("r:", "b"), "past", time.time() - 0.001)
    assert cache.get(("r:", "a")) == "soon"
    assert cache.get(("r:", "b")) is MISS
    time.sleep(0.06)
    assert cache.get(("r:", "a")) is MISS
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first_past_the_bound() -> None:
    cache = live_cache(entries=3)
    for name in "abc":
        cache.put(cache.ticket(), "r:", name, name, None)
    cache.get("a")  # now b is the least recently used
    cache.put(cache.ticket(), "r:", "d", "d", None)
    assert len(cache) == 3
    assert cache.get("b") is MISS
    assert [cache.get(n) for n in "acd"] == ["a", "c", "d"]


def test_a_read_that_raced_a_change_of_its_user_is_not_kept() -> None:
    cache = live_cache()
    ticket = cache.ticket()  # the read is sent ...
    cache.invalidate(["r:"])  # ... a change of its user is announced before its reply
    assert not cache.put(ticket, "r:", "k", "old", None)
    assert cache.put(ticket, "other:", "o", "fine", None)  # other users are not affected
    assert cache.put(cache.ticket(), "r:", "k", "new", None)


def test_a_cache_that_is_not_live_answers_and_keeps_nothing() -> None:
    cache = live_cache()
    cache.put(cache.ticket(), "r:", "k", "v", None)
    ticket = cache.ticket()
    cache.reset(live=False)  # the tracking connection was lost
    assert len(cache) == 0
    assert not cache.put(cache.ticket(), "r:", "k", "v", None)
    cache.reset(live=True)  # back: reads sent before it are not kept either
    assert not cache.put(ticket, "r:", "k", "v", None)
    assert cache.put(cache.ticket(), "r:", "k", "v", None)
    assert cache.get("k") == "v"


# -- a mesh with the cache ------------------------------------------------------------


def test_a_repeated_read_of_an_unchanged_view_sends_nothing(
    cached: Callable[..., ContextMesh],
) -> None:
    mesh = cached()
    mesh.register_agent_topics("bob", ["t"])
    mesh.push_many([{"key": f"k{i}", "value": i, "topics": ["t"]} for i in range(5)]
                   + [{"key": "hidden", "value": 0, "subscribers": ["eve"]}])
    first, calls = sent_by(mesh, lambda: mesh.get_all_for_agent("bob"))
    assert calls == 1
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get_all_for_agent("bob"))[1] == 0)
    again, calls = sent_by(mesh, lambda: mesh.get_all_for_agent("bob"))
    assert calls == 0
    assert again == first == {f"k{i}": i for i in range(5)}
    assert (again.total_visible, again.truncated) == (5, False)
    for read in (lambda: mesh.get("k1", "bob"), lambda: mesh.get("k1"),
                 lambda: mesh.get_many(["k1", "k2", "nope"], "bob")):
        assert sent_by(mesh, read)[1] == 1
        assert sent_by(mesh, read) == (read(), 0)  # no write since: kept at once


def test_a_process_sees_its_own_write_at_once(cached: Callable[..., ContextMesh]) -> None:
    mesh = cached()
    for i in range(20):  # no sleep: the next read follows the write's reply
        mesh.push("k", i)
        assert mesh.get("k") == i
        assert mesh.get_all_for_agent("bob") == {"k": i}
        assert mesh.get_many(["k"]) == {"k": i}
    mesh.remove("k")
    assert mesh.get("k") is None


def test_another_mesh_write_invalidates_the_users_entries(
    cached: Callable[..., ContextMesh],
) -> None:
    reader, writer = cached(), cached(read_cache_entries=0)
    writer.push("k", "old")
    assert reader.get_all_for_agent("bob") == {"k": "old"}
    writer.push("k", "new")  # another cache (here: none) in the same process
    assert eventually(lambda: reader.get_all_for_agent("bob") == {"k": "new"})
    writer.register_agent_topics("bob", ["t"])
    writer.push("t-only", 1, topics=["t"])
    assert eventually(lambda: reader.get_all_for_agent("bob") == {"k": "new", "t-only": 1})


def test_an_expired_item_leaves_cached_reads_on_time(cached: Callable[..., ContextMesh]) -> None:
    mesh = cached()
    mesh.push("short", 1, ttl=0.3)
    mesh.push("long", 2)
    assert mesh.get_all_for_agent("bob") == {"short": 1, "long": 2}
    assert mesh.get("short") == 1
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("short"))[1] == 0, within=0.2)
    time.sleep(0.35)
    assert mesh.get_all_for_agent("bob") == {"long": 2}
    assert mesh.get("short") is None
    assert mesh.get_many(["short", "long"]) == {"long": 2}


def test_a_caller_changing_what_it_read_changes_nothing_cached(
    cached: Callable[..., ContextMesh],
) -> None:
    mesh = cached()
    mesh.push("doc", {"tags": ["a"]})
    mesh.get_all_for_agent("bob")["doc"]["tags"].append("mine")
    mesh.get("doc")["tags"].append("mine")
    mesh.get_many_items(["doc"])["doc"].value["tags"].append("mine")
    original = {"doc": {"tags": ["a"]}}
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get_all_for_agent("bob")) == (original, 0))
    assert mesh.get("doc") == {"tags": ["a"]}
    assert mesh.get_many_items(["doc"])["doc"].value == {"tags": ["a"]}


def test_a_cut_read_still_says_so_from_the_cache(cached: Callable[..., ContextMesh]) -> None:
    mesh = cached(max_visible_items=2)
    mesh.push_many([{"key": f"k{i}", "value": i} for i in range(3)])
    with pytest.warns(UserWarning, match="can see 3 items"):
        mesh.get_all_for_agent("bob")
    with pytest.warns(UserWarning, match="can see 3 items"):
        values = mesh.run(mesh.operations.visible_values("bob"))
    assert (values, values.truncated) == ({"k1": 1, "k2": 2}, True)


def eventually(check: Callable[[], bool], within: float = SEEN_WITHIN) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


# -- across processes -------------------------------------------------------------------


def writer_process(url: str, prefix: str, link: Connection) -> None:
    """Process A: pushes the value it is sent, then acknowledges."""
    mesh = ContextMesh(user_id="u", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    while (value := link.recv()) is not None:
        mesh.push("k", value)
        link.send(value)


def stale_reads_until_seen(read: Callable[[], Any], value: int) -> float:
    """Seconds from the writer's acknowledgement until ``read`` returns ``value``."""
    started = time.perf_counter()
    while read() != value:
        if time.perf_counter() - started > SEEN_WITHIN:
            raise AssertionError(f"value {value} not seen within {SEEN_WITHIN} s")
    return time.perf_counter() - started


def served_here(tracker: tracking.Tracker, read: Callable[[], Any], expected: Any) -> bool:
    """True if ``read`` returns ``expected`` from the cache (sending nothing)."""
    hits = tracker.cache.hits
    assert read() == expected
    return tracker.cache.hits == hits + 1


@pytest.fixture
def writer(url: str, prefix: str) -> Iterator[Connection]:
    here, there = FORK.Pipe()
    process = FORK.Process(target=writer_process, args=(url, prefix, there), daemon=True)
    process.start()
    yield here
    here.send(None)
    process.join(10)


def test_another_process_write_is_seen_by_the_next_cached_read(
    cached: Callable[..., ContextMesh], writer: Connection,
) -> None:
    mesh = cached()
    tracker = mesh.store.tracker
    assert tracker is not None
    for value in range(TRIALS):
        writer.send(value)
        assert writer.recv() == value
        stale_reads_until_seen(lambda: mesh.get_all_for_agent("bob").get("k"), value)
        # between writes, reads are served here (once the write's own invalidation
        # came: it may drop a first read that already saw the write)
        expected = {"k": value}
        assert eventually(lambda: served_here(tracker, lambda: mesh.get_all_for_agent("bob"),
                                              expected))  # noqa: B023 (used at once)


def test_another_process_write_is_seen_by_the_next_async_cached_read(
    url: str, prefix: str, writer: Connection,
) -> None:
    async def scenario() -> None:
        mesh = AsyncContextMesh(user_id="u", redis_url=url, key_prefix=prefix,
                                auto_cleanup=False, read_cache_entries=100)
        tracker = mesh.store.tracker
        assert tracker is not None
        for value in range(TRIALS):
            writer.send(value)
            assert writer.recv() == value
            deadline = time.monotonic() + SEEN_WITHIN
            while (await mesh.get_all_for_agent("bob")).get("k") != value:
                assert time.monotonic() < deadline, f"value {value} not seen"
            hits = tracker.cache.hits
            while await mesh.get("k") == value and tracker.cache.hits == hits:
                assert time.monotonic() < deadline + SEEN_WITHIN, "reads not served here"
        await mesh.close()

    asyncio.run(scenario())


# -- failures -----------------------------------------------------------------------------


def test_a_lost_tracking_connection_empties_the_cache_until_it_is_back(
    private_redis: RedisProcess,
) -> None:
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, key_prefix="lost",
                       auto_cleanup=False, read_cache_entries=100)
    tracker = mesh.store.tracker
    assert tracker is not None
    mesh.push("k", 1)
    # kept once the push's own invalidation has come (it may drop the first read)
    assert eventually(lambda: mesh.get("k") == 1 and len(tracker.cache) == 1, within=5)
    admin = redis.Redis.from_url(private_redis.url)
    ids = [c["id"] for c in admin.client_list() if c["name"] == tracking.CLIENT_NAME]
    assert len(ids) == 1
    admin.client_kill_filter(_id=ids[0])
    assert eventually(lambda: len(tracker.cache) == 0, within=5)
    assert eventually(lambda: tracker.cache.live, within=5)  # reconnected
    assert sent_by(mesh, lambda: mesh.get("k")) == (1, 1)
    assert sent_by(mesh, lambda: mesh.get("k")) == (1, 0)


def test_fakeredis_falls_back_to_uncached_reads_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    with caplog.at_level(logging.WARNING, "syntha_redis.read_cache"):
        meshes = [ContextMesh(user_id="u", key_prefix=prefix, auto_cleanup=False,
                              read_cache_entries=100) for _ in range(2)]
    assert [m.store.tracker for m in meshes] == [None, None]
    assert len([r for r in caplog.records if "CLIENT TRACKING" in r.message]) == 1
    meshes[0].push("k", 1)
    assert meshes[1].get("k") == meshes[1].get_all_for_agent("bob")["k"] == 1
    meshes[0].push("k", 2)
    assert meshes[1].get("k") == 2
    delete_prefix(None, prefix)


def test_a_mesh_used_in_a_forked_child_reads_redis_not_the_parents_cache(
    cached: Callable[..., ContextMesh],
) -> None:
    mesh = cached()
    mesh.push("k", "before")
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("k"))[1] == 0)
    here, there = FORK.Pipe()

    def child() -> None:
        ContextMesh(user_id="u", redis_url=mesh.settings.redis_url,
                    key_prefix=mesh.settings.key_prefix).push("k", "after")
        there.send(mesh.get("k"))  # the parent's handle, whose cache no thread keeps here

    process = FORK.Process(target=child, daemon=True)
    process.start()
    assert here.recv() == "after"
    process.join(10)


def test_a_read_from_a_node_not_yet_tracked_turns_the_cache_off_until_it_is(
    machine_url: str, private_redis: RedisProcess,
) -> None:
    """Slots that moved to a new primary: its changes are tracked before anything is kept."""
    mesh = ContextMesh(user_id="u", redis_url=machine_url, key_prefix=f"t{uuid.uuid4().hex[:12]}",
                       auto_cleanup=False, read_cache_entries=100)
    tracker = mesh.store.tracker
    assert tracker is not None
    mesh.push("k", 1)
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("k"))[1] == 0)
    new_primary = f"127.0.0.1:{private_redis.port}"
    assert not tracker.covers(new_primary)
    assert (len(tracker.cache), tracker.cache.live) == (0, False)
    assert eventually(lambda: tracker.cache.live, within=5)
    assert tracker.covers(new_primary)
    admin = redis.Redis.from_url(private_redis.url)
    assert [c["name"] for c in admin.client_list()].count(tracking.CLIENT_NAME) == 1
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("k"))[1] == 0)
    delete_prefix(machine_url, mesh.settings.key_prefix)


def test_a_flushed_database_is_not_served_from_the_cache(private_redis: RedisProcess) -> None:
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, key_prefix="flushed",
                       auto_cleanup=False, read_cache_entries=100)
    mesh.push("k", 1)
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("k"))[1] == 0, within=5)
    redis.Redis.from_url(private_redis.url).flushdb()  # this test's own server
    assert eventually(lambda: mesh.get("k") is None)


def test_a_watch_beside_cached_reads_leaves_them_cached(
    cached: Callable[..., ContextMesh],
) -> None:
    mesh = cached()
    mesh.push("k", 1)
    assert eventually(lambda: sent_by(mesh, lambda: mesh.get("k"))[1] == 0)
    assert [e.key for e in mesh.watch("bob", since="0", timeout=0)] == ["k"]
    assert sent_by(mesh, lambda: mesh.get("k")) == (1, 0)
