"""Connections and settings: URLs, environment, keywords, and failures as SynthaErrors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syntha_redis import (
    AsyncContextMesh,
    ContextMesh,
    Settings,
    SynthaConfigurationError,
    SynthaConnectionError,
)
from syntha_redis.core.calls import Call
from syntha_redis.core.store import Store
from tests.conftest import backend_url, delete_prefix
from tests.support.recording import RecordingStore
from tests.support.servers import RedisProcess, free_port


def test_a_dead_server_gives_a_connection_error_with_a_suggestion() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    mesh = ContextMesh(user_id="u", redis_url=url, retries=0, connect_timeout=0.2)
    with pytest.raises(SynthaConnectionError) as info:
        mesh.push("k", "v")
    assert "127.0.0.1" in info.value.message
    assert info.value.suggestion and "running" in info.value.suggestion


def test_passwords_never_appear_in_errors() -> None:
    url = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    mesh = ContextMesh(user_id="u", redis_url=url, retries=0, connect_timeout=0.2)
    with pytest.raises(SynthaConnectionError) as info:
        mesh.get("k")
    assert "hunter2" not in str(info.value) and "***" in info.value.message


def test_unsupported_url_scheme_is_a_configuration_error() -> None:
    with pytest.raises(SynthaConfigurationError, match="scheme"):
        ContextMesh(user_id="u", redis_url="http://localhost:6379").get("k")


def test_unknown_keyword_is_a_configuration_error() -> None:
    with pytest.raises(SynthaConfigurationError) as info:
        ContextMesh(user_id="u", enable_turbo=True)
    assert "enable_turbo" in info.value.message
    assert info.value.suggestion and "pool_size" in info.value.suggestion


def test_database_options_without_a_backend_are_refused() -> None:
    with pytest.raises(SynthaConfigurationError, match="db_backend"):
        ContextMesh(user_id="u", connection_string="postgresql://x/y")


def test_invalid_setting_names_the_field() -> None:
    with pytest.raises(SynthaConfigurationError) as info:
        ContextMesh(user_id="u", pool_size=0)
    assert info.value.context["config_key"] == "pool_size"


def test_pool_size_and_overflow_size_the_redis_pool() -> None:
    mesh = ContextMesh(user_id="u", pool_size=20, max_overflow=30, pool_timeout=7)
    assert mesh.settings.pool_size == 50 and mesh.settings.pool_timeout == 7


def test_meshes_with_other_pool_options_get_their_own_pool() -> None:
    url = backend_url("redis")
    small = ContextMesh(user_id="u", redis_url=url, pool_size=3, socket_timeout=1.5)
    big = ContextMesh(user_id="u", redis_url=url, pool_size=40, socket_timeout=1.5)
    alike = ContextMesh(user_id="v", redis_url=url, pool_size=3, socket_timeout=1.5)
    assert small.store.client.connection_pool.max_connections == 3
    assert big.store.client.connection_pool.max_connections == 40
    assert alike.store.client is small.store.client  # same options: one shared pool


def test_async_meshes_with_other_pool_options_get_their_own_pool() -> None:
    url = backend_url("redis")

    async def pools() -> list[int]:
        meshes = [AsyncContextMesh(user_id="u", redis_url=url, pool_size=n) for n in (4, 9)]
        sizes = [m.store.client.connection_pool.max_connections for m in meshes]
        for mesh in meshes:
            await mesh.close()
        return sizes

    assert asyncio.run(pools()) == [4, 9]


def test_environment_configures_the_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHA_KEY_PREFIX", "from-env")
    monkeypatch.setenv("SYNTHA_DEFAULT_TTL", "30")
    settings = Settings.from_env()
    assert settings.key_prefix == "from-env" and settings.default_ttl == 30
    assert Settings.from_env(key_prefix="arg").key_prefix == "arg"


def test_bad_prefix_is_refused() -> None:
    with pytest.raises(SynthaConfigurationError):
        Settings.from_env(key_prefix="a{b}")


def test_mesh_without_user_id_warns_and_uses_the_default_user(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    import syntha_redis.context as context

    context._warned_default_user = False
    with pytest.warns(UserWarning, match="user_id"):
        mesh = mesh_factory(user_id=None)
    assert mesh.user_id == "default"


def test_unix_socket_urls_work(tmp_path: Path) -> None:
    server = RedisProcess(extra=("--unixsocket", f"{tmp_path}/r.sock")).start()
    try:
        mesh = ContextMesh(user_id="u", redis_url=f"unix://{tmp_path}/r.sock")
        mesh.push("k", "v")
        assert mesh.get("k") == "v"
    finally:
        server.stop()


PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys
    from syntha_redis import ContextMesh
    url, prefix, user, action = sys.argv[1:5]
    mesh = ContextMesh(user_id=user, redis_url=url, key_prefix=prefix)
    if action == "push":
        mesh.push("deal", {"amount": 42}, topics=["sales"])
        mesh.register_agent_topics("analyst", ["sales"])
    else:
        print(mesh.get_all_for_agent("analyst"))
    """
)


def run_process(url: str, prefix: str, user: str, action: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    done = subprocess.run(
        [sys.executable, "-c", PROCESS_SCRIPT, url, prefix, user, action],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )
    return done.stdout.strip()


def test_two_processes_share_one_mesh_and_a_third_user_sees_nothing() -> None:
    url = backend_url("redis")
    assert url is not None
    prefix = f"t{uuid.uuid4().hex[:12]}"
    try:
        run_process(url, prefix, "acme", "push")
        assert run_process(url, prefix, "acme", "read") == "{'deal': {'amount': 42}}"
        assert run_process(url, prefix, "globex", "read") == "{}"
    finally:
        delete_prefix(url, prefix)


def test_a_new_handle_of_a_registered_user_writes_in_one_round_trip(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    first = mesh_factory(user_id="registered")
    first.push("a", 1)
    joins = f"{first.settings.key_prefix}:{{registry}}:joins"
    assert [fields for _, fields in raw.xrange(joins)] == [{b"u": b"registered"}]
    second = mesh_factory(user_id="registered")
    sent = RecordingStore.of(second).sent
    second.push("b", 2)
    assert [call.name for call in sent] == ["push"]


def test_a_failed_announcement_is_sent_again_with_the_next_write(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(user_id="unlucky")

    def refuse_the_announcement(call: Call) -> Any:
        if getattr(call, "args", ("",))[0] == "XADD":
            raise SynthaConnectionError("Redis went away mid-call")
        return Store.execute(store, call)

    store = RecordingStore.of(mesh, refuse_the_announcement)
    with pytest.raises(SynthaConnectionError):
        mesh.push("a", 1)
    store.fail = None
    mesh.push("a", 1)
    joins = f"{mesh.settings.key_prefix}:{{registry}}:joins"
    assert [fields for _, fields in raw.xrange(joins)] == [{b"u": b"unlucky"}]


def test_a_registry_another_tenant_blocked_does_not_fail_the_write(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(user_id="blocked")
    joins = f"{mesh.settings.key_prefix}:{{registry}}:joins"
    # the last possible entry id: every XADD * to the shared stream is refused
    raw.xadd(joins, {"u": "attacker"}, id="18446744073709551615-18446744073709551615")
    assert mesh.push("a", 1) > 0 and mesh.get("a") == 1
    raw.delete(joins)  # what the trusted worker's repair does
    mesh.push("b", 2)  # the announcement was still due: sent now
    assert [fields for _, fields in raw.xrange(joins)] == [{b"u": b"blocked"}]
