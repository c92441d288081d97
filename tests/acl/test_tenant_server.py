"""Connected as a tenant: its own mesh works in full, everyone else's is refused."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest
import redis

from syntha_redis import (
    AsyncContextMesh,
    ContextMesh,
    Settings,
    SynthaConfigurationError,
    SynthaPermissionError,
    ToolHandler,
)
from syntha_redis.cli import main
from syntha_redis.scripts import SCRIPTS
from syntha_redis.snapshot import Snapshotter, SqliteDB
from tests.acl.conftest import Tenants


def _mesh(tenants: Tenants, user: str, *, as_tenant: str | None = None) -> ContextMesh:
    return ContextMesh(user_id=user, redis_url=tenants.url(as_tenant or user),
                       key_prefix=tenants.prefix, watch_poll_interval=60, retries=0)


def test_a_tenant_runs_the_whole_mesh_and_the_server_refuses_nothing(
    clean_acl_log: Tenants,
) -> None:
    tenants = clean_acl_log
    mesh = _mesh(tenants, "alice")
    assert mesh.ping()
    mesh.register_agent_topics("reader", ["sales"])
    mesh.set_agent_post_permissions("writer", ["sales"])
    assert mesh.can_agent_post_to_topic("writer", "sales")
    with mesh.watch("reader", timeout=10) as watch:
        # the watcher sleeps on SSUBSCRIBE (poll interval 60 s): a push must wake it
        threading.Timer(0.05, lambda: mesh.push("lead", {"n": 1}, topics=["sales"],
                                                agent_name="writer")).start()
        event = next(watch)
    assert (event.type, event.key) == ("pushed", "lead")
    mesh.push("note", "hi", subscribers=["reader"], ttl=60)
    mesh.push_many([{"key": "a", "value": 1}, {"key": "b", "value": 2}])
    assert mesh.get("lead") == {"n": 1} and mesh.get("lead", "reader") == {"n": 1}
    assert mesh.get_many(["a", "b"], "reader") == {"a": 1, "b": 2}
    assert set(mesh.get_keys_for_agent("reader")) == {"lead", "note", "a", "b"}
    assert mesh.get_all_topics() == ["sales"] and mesh.get_topics_for_agent("reader")
    assert mesh.get_subscribers_for_topic("sales") == ["reader"]
    assert mesh.unsubscribe_from_topics("reader", ["nothing"]) == []
    assert mesh.delete_topic("sales") == 1
    assert mesh.remove("a") and mesh.cleanup_expired() == 0
    assert mesh.get_stats()["active_items"] == 2  # note, b
    handler = ToolHandler(mesh, agent_name="reader")
    assert handler.handle_tool_call("push_context", key="t", value="v")["success"]
    assert handler.handle_tool_call("list_context")["success"]
    mesh.clear()
    assert mesh.size() == 0
    mesh.close()
    assert tenants.acl_log("alice") == []


async def test_the_async_mesh_needs_no_other_command(clean_acl_log: Tenants) -> None:
    tenants = clean_acl_log
    async with AsyncContextMesh(user_id="alice", redis_url=tenants.url("alice"),
                                key_prefix=tenants.prefix, watch_poll_interval=60) as mesh:
        start = mesh.watch("r", timeout=0)
        assert [e async for e in start] == []

        async def later() -> None:
            await asyncio.sleep(0.05)
            await mesh.push("k", 1)

        writer = asyncio.create_task(later())
        async with mesh.watch("r", since=start.cursor, timeout=10) as watch:
            event = await asyncio.wait_for(watch.__anext__(), timeout=10)
        await writer
        assert event.key == "k" and await mesh.get("k", "r") == 1
    assert tenants.acl_log("alice") == []


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "{bob}"), ("SET", "{bob}x", "1"), ("DEL", "{bob}item:k"),
        ("HMGET", "{bob}item:k", "value"), ("EVALSHA", "0" * 40, "1", "{bob}"),
        ("SMEMBERS", "users"), ("SREM", "users", "x"), ("DEL", "users"),
        ("KEYS", "*"), ("SCAN", "0"), ("FLUSHALL",), ("CONFIG", "GET", "*"),
        ("EVAL", "return 1", "0"), ("ACL", "WHOAMI"), ("SPUBLISH", "{bob}wake", "x"),
    ],
)
def test_raw_commands_outside_the_tenant_are_refused(
    tenants: Tenants, command: tuple[str, ...]
) -> None:
    bob_root = f"{tenants.prefix}:{{u:bob}}:"
    args = [a.replace("{bob}", bob_root).replace("users", f"{tenants.prefix}:users")
            for a in command]
    client = redis.Redis.from_url(tenants.url("alice"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*args)
    client.close()


def test_subscribing_to_another_tenants_channel_is_refused(tenants: Tenants) -> None:
    pubsub = redis.Redis.from_url(tenants.url("alice")).pubsub()
    with pytest.raises(redis.exceptions.NoPermissionError):
        pubsub.ssubscribe(f"{tenants.prefix}:{{u:bob}}:wake")
        pubsub.get_sharded_message(timeout=1)
    pubsub.close()


def test_a_mesh_of_another_user_fails_with_a_permission_error(tenants: Tenants) -> None:
    bob = _mesh(tenants, "bob")
    bob.push("secret", "bob's", topics=["t"])
    intruder = _mesh(tenants, "bob", as_tenant="alice")
    attempts = [
        lambda: intruder.get("secret"),
        lambda: intruder.get("secret", "agent"),
        lambda: intruder.get_keys_for_agent("agent"),
        lambda: intruder.push("secret", "overwritten"),
        lambda: intruder.delete_topic("t"),
        lambda: intruder.clear(),
        lambda: next(intruder.watch("agent", since="0", timeout=1)),
    ]
    for attempt in attempts:
        with pytest.raises(SynthaPermissionError) as info:
            attempt()
        assert "ACL" in info.value.message and info.value.suggestion
    assert bob.get("secret") == "bob's" and bob.size() == 1
    assert ToolHandler(intruder, "agent").handle_tool_call("list_context")["success"] is False


def test_acl_apply_from_the_command_line_lets_the_tenant_in(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAROL_PW", "pw-carol")
    assert main(["acl", "apply", "--user", "carol", "--password-env", "CAROL_PW",
                 "--redis-url", tenants.server.url, "--key-prefix", tenants.prefix]) == 0
    carol = _mesh(tenants, "carol")
    carol.push("k", "v")
    assert carol.get("k") == "v"
    with pytest.raises(SynthaPermissionError):
        _mesh(tenants, "bob", as_tenant="carol").get("secret")


def _own(tenants: Tenants, user: str, suffix: str) -> str:
    return f"{tenants.prefix}:{{u:{user}}}:{suffix}"


@pytest.mark.parametrize(
    "command",
    [
        ("SCRIPT", "LOAD", "return 1"), ("EVAL", "while true do end", "0"),
        ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)"),
        ("SET", "{own}limits", "0|0|0|0|0|0|0"), ("DEL", "{own}limits"),
        ("HSET", "{prefix}limits", "max_items_per_user", "0"),
        ("SMEMBERS", "{prefix}{registry}:users"), ("XRANGE", "{prefix}{registry}:joins", "-", "+"),
        ("SADD", "{prefix}{registry}:users", "x"),
    ],
)
def test_a_tenant_can_neither_run_code_of_its_own_nor_change_its_limits_nor_list_users(
    tenants: Tenants, command: tuple[str, ...]
) -> None:
    args = [a.replace("{own}", _own(tenants, "alice", "")).replace("{prefix}", tenants.prefix + ":")
            for a in command]
    client = redis.Redis.from_url(tenants.url("alice"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*args)
    client.close()


def test_a_tenants_announcement_tells_it_nothing_about_other_users(tenants: Tenants) -> None:
    client = redis.Redis.from_url(tenants.url("alice"))
    joins = f"{tenants.prefix}:{{registry}}:joins"
    replies = [client.xadd(joins, {"u": user}) for user in ("bob", "nobody-at-all")]
    assert all(re.fullmatch(rb"\d+-\d+", r) for r in replies)  # entry ids, not 0/1 answers
    client.close()


def _admin_snapshotter(tenants: Tenants, tmp_path: Path) -> Snapshotter:
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    settings = Settings(redis_url=tenants.server.url, key_prefix=tenants.prefix)
    return Snapshotter(settings, db, maintain_every=0.01)


def test_after_the_script_cache_is_lost_a_trusted_worker_reloads_it(
    tenants: Tenants, tmp_path: Path
) -> None:
    mesh = _mesh(tenants, "alice")
    mesh.push("before", 1)
    tenants.admin.script_flush()
    with pytest.raises(SynthaPermissionError) as refused:
        mesh.push("during", 2)
    assert "scripts load" in " ".join(refused.value.suggestions)
    loaded, _ = _admin_snapshotter(tenants, tmp_path).maintain()
    assert loaded == len(SCRIPTS)
    assert mesh.push("after", 3) > 0 and mesh.get("before") == 1


def test_a_tenant_that_lost_its_limits_asks_and_a_trusted_worker_provisions_them(
    tenants: Tenants, tmp_path: Path
) -> None:
    mesh = _mesh(tenants, "bob")
    mesh.push("before", 1)
    tenants.admin.delete(_own(tenants, "bob", "limits"))  # as an empty restart would
    with pytest.raises(SynthaConfigurationError) as refused:
        mesh.push("during", 2)
    assert "limits" in refused.value.message
    _, provisioned = _admin_snapshotter(tenants, tmp_path).maintain()
    assert provisioned == 1
    assert mesh.push("after", 3) > 0 and mesh.get("during") is None
