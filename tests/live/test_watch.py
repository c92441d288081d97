"""The change feed: what mesh.watch(agent) yields, on every backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh, SynthaValidationError
from syntha_redis.live.events import ChangeEvent

# the mesh contract: every test here runs on ContextMesh and AsyncContextMesh
pytestmark = pytest.mark.both_meshes


def drain(mesh: ContextMesh, agent: str, since: str | ChangeEvent | None) -> list[ChangeEvent]:
    """Everything the stream holds for ``agent`` after ``since``, without waiting."""
    return list(mesh.watch(agent, since=since, timeout=0))


def start_of(mesh: ContextMesh, agent: str) -> str:
    """A cursor at the newest event: watching from it shows only later changes."""
    watch = mesh.watch(agent, timeout=0)
    assert list(watch) == []
    return watch.cursor


def test_watch_yields_each_push_in_order_with_its_metadata(mesh: ContextMesh) -> None:
    since = start_of(mesh, "a")
    v1 = mesh.push("deal", {"n": 1}, agent_name="sales")
    v2 = mesh.push("note", "x", ttl=60)
    events = drain(mesh, "a", since)
    assert [(e.type, e.key, e.version) for e in events] == [
        ("pushed", "deal", v1),
        ("pushed", "note", v2),
    ]
    assert events[0].author == "sales" and events[0].expires_at is None
    assert events[1].expires_at is not None
    assert events[0].event_id < events[1].event_id


def test_watch_shows_only_items_the_agent_may_see(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales"])
    since = start_of(mesh, "a")
    mesh.push("on-topic", 1, topics=["sales"])
    mesh.push("other-topic", 1, topics=["hr"])
    mesh.push("to-b", 1, subscribers=["b"])
    mesh.push("to-a", 1, subscribers=["a"])
    mesh.push("global", 1)
    assert [e.key for e in drain(mesh, "a", since)] == ["on-topic", "to-a", "global"]
    assert [e.key for e in drain(mesh, "b", since)] == ["to-b", "global"]


def test_visibility_is_decided_when_the_watcher_reads(mesh: ContextMesh) -> None:
    since = start_of(mesh, "late")
    mesh.push("earlier", 1, topics=["ops"])
    assert drain(mesh, "late", since) == []
    mesh.register_agent_topics("late", ["ops"])
    assert [e.key for e in drain(mesh, "late", since) if e.type == "pushed"] == ["earlier"]


def test_deletes_topic_deletion_and_subscriptions_are_events(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["ops"])
    cursor = start_of(mesh, "a")
    seen = []
    for change in [
        lambda: mesh.push("x", 1, topics=["ops"]),
        lambda: mesh.remove("x"),
        lambda: mesh.subscribe_to_topics("b", ["ops"]),
        lambda: mesh.subscribe_to_topics("a", ["more"]),
        lambda: mesh.push("y", 1, topics=["ops"]),
        lambda: mesh.delete_topic("ops"),
    ]:
        change()
        watch = mesh.watch("a", since=cursor, timeout=0)  # a watcher keeping up
        seen += [(e.type, e.key or e.topic or e.agent) for e in watch]
        cursor = watch.cursor
    # y's deletion went to 'ops', which 'a' no longer follows once it is deleted;
    # the topic_deleted event tells every watcher
    assert seen == [
        ("pushed", "x"),
        ("deleted", "x"),
        ("subscribed", "a"),
        ("pushed", "y"),
        ("topic_deleted", "ops"),
    ]


def test_expiry_becomes_an_event_when_pruned(mesh: ContextMesh) -> None:
    since = start_of(mesh, "a")
    mesh.push("brief", 1, ttl=0.05)
    threading.Event().wait(0.1)  # let the TTL pass: nothing else makes time go by
    mesh.cleanup_expired()
    assert [(e.type, e.key) for e in drain(mesh, "a", since)] == [
        ("pushed", "brief"),
        ("expired", "brief"),
    ]


def test_resuming_from_an_event_skips_what_was_handled(mesh: ContextMesh) -> None:
    since = start_of(mesh, "a")
    for i in range(5):
        mesh.push(f"k{i}", i)
    first = drain(mesh, "a", since)
    assert [e.key for e in drain(mesh, "a", first[2])] == ["k3", "k4"]
    assert [e.key for e in drain(mesh, "a", first[2].event_id)] == ["k3", "k4"]


def test_since_zero_replays_everything_the_stream_holds(mesh: ContextMesh) -> None:
    mesh.push("a", 1)
    mesh.push("b", 2)
    events = drain(mesh, "x", "0")
    assert [e.key for e in events] == ["a", "b"]
    assert events[1].version == events[0].version + 1


def test_a_reader_behind_the_trimmed_stream_gets_a_gap_then_resyncs(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(stream_max_length=10)
    mesh.push("first", 0)
    handled = drain(mesh, "a", "0")[-1]
    for i in range(300):  # MAXLEN ~ trims whole stream nodes (100 entries each)
        mesh.push(f"k{i}", i)
    events = drain(mesh, "a", handled)
    assert events[0].type == "gap"
    assert events[-1].key == "k299" and len(events) < 300
    assert {i.key for i in mesh.get_visible_items("a")} >= {"first", "k0", "k299"}
    # a bare event id (no version) detects the gap too
    assert drain(mesh, "a", handled.event_id)[0].type == "gap"


def test_no_gap_when_nothing_was_trimmed(mesh: ContextMesh) -> None:
    mesh.push("a", 1)
    handled = drain(mesh, "a", "0")[-1]
    mesh.push("b", 2)
    assert [e.type for e in drain(mesh, "a", handled)] == ["pushed"]


def test_watch_wakes_up_when_another_client_writes(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    # with polling this slow, only the pub/sub wake-up can deliver in time
    mesh = mesh_factory(watch_poll_interval=60)
    writer = threading.Timer(0.05, mesh_factory().push, args=("live", 1))
    started = time.monotonic()
    with mesh.watch("a", since=start_of(mesh, "a"), timeout=30) as watch:
        writer.start()
        assert next(watch).key == "live"
    assert time.monotonic() - started < 10
    writer.join()


def test_watch_ends_after_timeout_without_events(mesh: ContextMesh) -> None:
    assert list(mesh.watch("a", timeout=0.05)) == []


@pytest.mark.parametrize("since", ["yesterday", "12", "1-2-3", 5])
def test_bad_cursor_is_refused(mesh: ContextMesh, since: object) -> None:
    with pytest.raises(SynthaValidationError):
        mesh.watch("a", since=since)  # type: ignore[arg-type]


def test_a_refused_wake_subscription_backs_off_instead_of_spinning() -> None:
    from syntha_redis.live.wakeups import backoff

    pauses = [backoff(n, 1.0) for n in range(8)]
    assert pauses[0] > 0 and pauses == sorted(pauses) and pauses[-1] == 1.0


def test_new_changes_count_from_the_watch_call_not_the_first_read(mesh: ContextMesh) -> None:
    watch = mesh.watch("a", timeout=0)
    mesh.push("after-watch", 1)
    assert [e.key for e in watch] == ["after-watch"]
