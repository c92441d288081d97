"""Each attack of issue 17 on the trusted side, as one tenant (alice) would make it:
the trusted readers set the bad data aside, count it, and bob's data keeps flowing."""

from __future__ import annotations

import time
from typing import Any

import pytest

from syntha_redis import SynthaError
from syntha_redis.cli import main
from syntha_redis.core import keys, registry
from syntha_redis.core.store import Store
from syntha_redis.live.sweeper import Sweeper
from syntha_redis.ops.fleet_metrics import FleetMetrics, read_fleet
from syntha_redis.ops.http import start_http_server
from syntha_redis.snapshot import Snapshotter, restore_all, verify_user
from tests.hostile.conftest import Deployment, set_aside

UNDECODABLE = b"\xff\xfe"


def _bob_is_captured(d: Deployment, key: str = "after") -> None:
    d.bob.push(key, {"n": 2})
    d.snap.drain()
    row = d.captured("bob", key)
    assert row is not None and row.version == d.bob.get_item(key).version  # type: ignore[union-attr]


def _nothing_pending(d: Deployment, user: str) -> bool:
    return bool(d.admin.xpending(d.key(user, "events"), d.snap.group)["pending"] == 0)


def _cli(d: Deployment, *args: str) -> int:
    return main([*args, "--redis-url", d.settings.redis_url or "",
                 "--key-prefix", d.prefix])


@pytest.mark.parametrize("stream", ["joins", "limit-asks"])
def test_an_undecodable_registry_entry_is_set_aside_and_every_trusted_reader_goes_on(
    deployment: Deployment, stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    name = f"{d.prefix}:{{registry}}:{stream}"
    d.admin.xadd(name, {"u": UNDECODABLE})
    before = set_aside("limit asks" if stream == "limit-asks" else "registry fold", "undecodable")
    assert d.snap.maintain()[1] == 0 and d.snap.registered_users() == ["alice", "bob"]
    assert d.admin.xlen(name) == 0  # taken, never read again
    assert set_aside("limit asks" if stream == "limit-asks" else "registry fold",
                     "undecodable") == before + 1
    _bob_is_captured(d)
    assert Sweeper().sweep_registered(d.settings).keys() == {
        (d.settings.redis_url, d.prefix, "alice"), (d.settings.redis_url, d.prefix, "bob")}
    assert read_fleet(Store(d.settings)).users == 2
    assert _cli(d, "limits", "sync") == 0
    assert "copied to 2 registered users" in capsys.readouterr().err
    assert _cli(d, "snapshot", "verify", "--dsn", d.dsn) == 0
    assert "bob: 2 items checked, 0 differ" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"type": "pushed", "key": "a1", "ver": "abc"}, "bad_integer"),
        ({"type": UNDECODABLE, "key": "a1", "ver": "7"}, "undecodable"),
        ({"type": "deleted", "key": "a1", "ver": str(10**30)}, "out_of_range"),
        ({"type": "deleted", "key": "a1", "ver": str(2**63)}, "out_of_range"),
        ({"type": "pushed", "key": "a1", "ver": "7", "topics": UNDECODABLE}, "undecodable"),
        ({"type": "subscribed", "agent": "%00", "topics": "", "ver": "7"}, "bad_identifier"),
        ({"type": "topic_deleted", "topic": "%ff", "ver": "7"}, "undecodable"),
        ({"type": "renamed", "ver": "7"}, "unknown_event"),
    ],
)
def test_a_malformed_event_is_acknowledged_and_counted_and_bob_is_captured(
    deployment: Deployment, fields: dict[str, Any], kind: str
) -> None:
    d = deployment
    d.admin.xadd(d.key("alice", "events"), fields)
    before = set_aside("snapshot capture", kind)
    _bob_is_captured(d)
    assert set_aside("snapshot capture", kind) == before + 1
    assert _nothing_pending(d, "alice")
    d.snap.drain()  # never retried: nothing more is set aside
    assert set_aside("snapshot capture", kind) == before + 1


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("version", "abc", "bad_integer"), ("version", str(2**63), "out_of_range"),
     ("topics", UNDECODABLE, "undecodable"), ("author", "a%00b", "bad_identifier")],
)
def test_a_malformed_item_hash_is_set_aside_and_the_users_other_items_are_captured(
    deployment: Deployment, field: str, value: Any, kind: str
) -> None:
    d = deployment
    d.alice.push("bad", 1)
    d.alice.push("good", 2)
    d.admin.hset(d.key("alice", "item:bad"), field, value)
    d.admin.xadd(d.key("alice", "events"), {"type": "updated", "key": "bad", "ver": "9"})
    before = set_aside("snapshot capture", kind)
    _bob_is_captured(d)
    assert set_aside("snapshot capture", kind) == before + 1
    assert d.captured("alice", "good") is not None and _nothing_pending(d, "alice")


def test_a_raw_push_with_an_undecodable_topic_token_is_refused_or_set_aside(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script call a client makes, with the topics csv a raw EVALSHA could send."""
    d = deployment
    real = d.alice.operations.name_csv
    monkeypatch.setattr(d.alice.operations, "name_csv", lambda names, field, cap: (
        UNDECODABLE if field == "topics" else real(names, field, cap)))
    before = set_aside("snapshot capture", "undecodable")
    try:
        d.alice.push("evil", 1, topics=["t"])
    except SynthaError:  # the script refused it: nothing reached the stream
        refused = True
    else:
        refused = False
    _bob_is_captured(d)
    assert refused or set_aside("snapshot capture", "undecodable") == before + 1
    assert _nothing_pending(d, "alice")


def test_an_item_key_of_another_type_is_set_aside_alone(deployment: Deployment) -> None:
    d = deployment
    d.alice.push("good", 2)
    d.admin.set(d.key("alice", "item:bad"), "x")
    d.admin.xadd(d.key("alice", "events"), {"type": "pushed", "key": "bad", "ver": "9"})
    before = set_aside("snapshot capture", "refused_by_redis")
    _bob_is_captured(d)
    assert set_aside("snapshot capture", "refused_by_redis") == before + 1
    assert d.captured("alice", "good") is not None and _nothing_pending(d, "alice")


def test_a_stream_replaced_by_a_string_skips_its_user_only(deployment: Deployment) -> None:
    d = deployment
    d.admin.delete(d.key("alice", "events"))
    d.admin.set(d.key("alice", "events"), "x")
    before = set_aside("snapshot capture", "refused_by_redis")
    for n in range(3):
        _bob_is_captured(d, f"after-{n}")
    assert set_aside("snapshot capture", "refused_by_redis") == before + 1  # once, not per pass
    assert list(d.snap.refused) == ["alice"]
    ok, status = d.snap.status()
    assert ok and status["capture"]["users_refused"] == 1
    reading = read_fleet(Store(d.settings))
    assert reading.up and reading.users == 2 and reading.items >= 4
    d.admin.delete(d.key("alice", "events"))
    d.alice.push("back", 3)
    d.snap.drain()
    assert d.snap.refused == {} and d.captured("alice", "back") is not None


def test_a_malformed_entry_left_pending_by_a_dead_worker_is_claimed_and_acknowledged(
    deployment: Deployment,
) -> None:
    d = deployment
    d.admin.xadd(d.key("alice", "events"), {"type": "pushed", "key": "a1", "ver": "abc"})
    dead = Snapshotter(d.settings, d.snap.db, consumer="dead")
    assert len(dead._read_new(["alice"])) == 1  # read, and the worker dies before writing
    assert not _nothing_pending(d, "alice")
    before = set_aside("snapshot capture", "bad_integer")
    live = Snapshotter(d.settings, d.snap.db, consumer="live", claim_idle_ms=0)
    live.run_once()  # its first pass claims what is idle for claim_idle_ms (0)
    assert _nothing_pending(d, "alice")
    _bob_is_captured(d)
    assert set_aside("snapshot capture", "bad_integer") == before + 1


def test_a_stream_replaced_between_its_read_and_its_acknowledgement_stalls_nothing(
    deployment: Deployment,
) -> None:
    d = deployment
    d.alice.push("read", 1)
    entries = d.snap._read_new(["alice"])
    d.admin.delete(d.key("alice", "events"))
    d.admin.set(d.key("alice", "events"), "x")
    assert d.snap.write(entries) == len(entries) == 1
    assert d.snap._backlog == [] and list(d.snap.refused) == ["alice"]
    _bob_is_captured(d)


def test_a_row_the_database_refuses_is_set_aside_and_bobs_rows_of_the_batch_go_in(
    deployment: Deployment,
) -> None:
    d = deployment
    # a key Postgres cannot index (over btree's 2,704 bytes), written past the scripts
    key = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1500))
    tok = keys.encode(key)
    d.admin.hset(d.key("alice", "item:" + tok), mapping={"value": b"\x01", "version": 5})
    d.admin.xadd(d.key("alice", "events"), {"type": "pushed", "key": tok, "ver": "5"})
    d.bob.push("same-batch", 1)
    before = set_aside("snapshot capture", "refused_by_database")
    d.snap.drain()
    assert set_aside("snapshot capture", "refused_by_database") == before + 1
    assert d.captured("bob", "same-batch") is not None and _nothing_pending(d, "alice")


def test_a_byte_counter_that_is_not_a_number_leaves_metrics_answering(
    deployment: Deployment,
) -> None:
    d = deployment
    d.admin.set(d.key("alice", "bytes"), "abc")
    before = set_aside("fleet metrics", "bad_integer")
    with start_http_server(d.settings, 0, "127.0.0.1", mesh_metrics=True) as server:
        status, _, body = server.answer("/metrics")
    assert status == 200
    assert f'syntha_redis_mesh_up{{prefix="{d.prefix}"}} 1' in body.decode()
    assert f'syntha_redis_mesh_users{{prefix="{d.prefix}"}} 2' in body.decode()
    assert set_aside("fleet metrics", "bad_integer") == before + 1


def test_a_scrape_answers_even_when_reading_the_mesh_meets_a_bug(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr("syntha_redis.ops.fleet_metrics.read_fleet", broken)
    page = FleetMetrics(Store(deployment.settings)).exposition()
    assert f'syntha_redis_mesh_up{{prefix="{deployment.prefix}"}} 0' in page


def test_the_sweeper_thread_survives_a_pass_that_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    sweeper = Sweeper()
    passes: list[int] = []

    def run_once(now: float | None = None) -> dict[Any, Any]:
        passes.append(1)
        if len(passes) == 1:
            raise ValueError("a bug met by some data")
        return {}

    monkeypatch.setattr(sweeper, "run_once", run_once)
    monkeypatch.setattr(sweeper, "next_due", lambda: 0.01)
    sweeper.start()
    deadline = time.monotonic() + 5
    while len(passes) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(passes) >= 3 and sweeper._thread is not None and sweeper._thread.is_alive()


def test_a_user_whose_keys_redis_refuses_is_swept_around(deployment: Deployment) -> None:
    d = deployment
    d.admin.delete(d.key("alice", "exp"))
    d.admin.set(d.key("alice", "exp"), "x")
    before = set_aside("sweeper", "refused_by_redis")
    done = Sweeper().sweep_registered(d.settings)
    assert (d.settings.redis_url, d.prefix, "bob") in done
    assert set_aside("sweeper", "refused_by_redis") == before + 1


def test_restore_and_verify_go_on_past_a_user_whose_keys_redis_refuses(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    d.admin.delete(d.key("alice", "items"))
    d.admin.set(d.key("alice", "items"), "x")  # verify's index of alice's items
    d.admin.delete(d.key("alice", "ver"))
    d.admin.hset(d.key("alice", "ver"), "x", "1")  # restore's version counter
    d.admin.delete(d.key("bob", "item:hello"))
    report = restore_all(d.settings, d.snap.db)
    assert report.refused == ["alice"] and report.applied == 1
    assert d.bob.get("hello") == 1
    alice = verify_user(d.settings, d.snap.db, "alice")
    assert alice.differences and "unreadable" in alice.differences[0].redis
    assert verify_user(d.settings, d.snap.db, "bob").differences == []


def test_ready_tells_whether_capture_works_and_what_was_set_aside(
    deployment: Deployment,
) -> None:
    d = deployment
    d.admin.xadd(d.key("alice", "events"), {"type": UNDECODABLE})
    d.snap.drain()
    with start_http_server(d.settings, 0, "127.0.0.1", worker=d.snap.status) as server:
        status, _, body = server.answer("/ready")
        assert status == 200 and b'"set_aside"' in body and b'"undecodable"' in body
        d.snap.last_pass_at = time.time() - 3600  # no pass for an hour: not ready
        assert server.answer("/ready")[0] == 503


def test_a_flood_of_joins_adds_no_user_and_each_fold_reads_one_batch(
    deployment: Deployment,
) -> None:
    d = deployment
    pipe = d.admin.pipeline(transaction=False)
    for n in range(registry.FOLD_BATCH + 500):
        pipe.xadd(d.joins(), {"u": f"fake-{n}"})
    pipe.xadd(d.joins(), {"u": UNDECODABLE})
    pipe.execute()
    store = Store(d.settings)
    assert registry.fold(store) == 0
    assert d.admin.xlen(d.joins()) == 501  # one batch read, the rest left for later passes
    assert registry.users(store) == ["alice", "bob"]
    assert d.admin.xlen(d.joins()) == 0
    assert d.admin.scard(f"{d.prefix}:{{registry}}:users") == 2


def test_a_join_read_before_the_users_first_write_is_added_on_a_later_fold(
    deployment: Deployment,
) -> None:
    d = deployment
    store = Store(d.settings)
    d.admin.xadd(d.joins(), {"u": "carol"})
    assert registry.fold(store) == 0  # carol has no keyspace yet
    d.admin.set(d.key("carol", "ver"), 1)  # her first write lands
    assert registry.fold(store) == 1
    assert "carol" in registry.users(store)


def test_a_flood_of_limit_asks_writes_no_limits_for_users_without_keys(
    deployment: Deployment,
) -> None:
    d = deployment
    pipe = d.admin.pipeline(transaction=False)
    for n in range(3000):
        pipe.xadd(d.asks(), {"u": f"fake-{n}"})
    pipe.xadd(d.asks(), {"u": "bob"})
    pipe.execute()
    provisioned = d.snap.provision_asked()
    assert d.admin.xlen(d.asks()) > 0  # one bounded batch a pass
    while d.admin.xlen(d.asks()):
        provisioned += d.snap.provision_asked()
    assert provisioned == 1  # bob, who has a keyspace
    assert list(d.admin.scan_iter(match=f"{d.prefix}:{{u:fake-*", count=1000)) == []


def test_a_join_with_an_id_in_the_future_gets_the_stream_reset(deployment: Deployment) -> None:
    d = deployment
    d.admin.xadd(d.joins(), {"u": "alice"}, id="99999999999999-0")
    before = set_aside("registry fold", "future_id")
    assert registry.users(Store(d.settings)) == ["alice", "bob"]
    assert set_aside("registry fold", "future_id") == before + 1
    d.admin.xadd(d.joins(), {"u": "bob"})  # an announcement (XADD *) works again
