"""Connected as a tenant: its own mesh works in full, everyone else's is refused."""

from __future__ import annotations

import asyncio
import threading

import pytest
import redis

from syntha_redis import AsyncContextMesh, ContextMesh, SynthaPermissionError, ToolHandler
from syntha_redis.cli import main
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
