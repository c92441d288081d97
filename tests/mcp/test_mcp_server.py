"""``syntha-redis mcp`` end to end: real subprocesses spoken to by the mcp stdio client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from syntha_redis import AsyncContextMesh, ContextMesh, Settings
from syntha_redis.agents.schemas import TOOL_NAMES, get_tool_schema
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.cli import main
from syntha_redis.ops.mcp_server import build_handler
from tests.support.servers import RedisProcess, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = RedisProcess().start()
    yield server.url
    server.stop()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def agent(
    redis_url: str, prefix: str, user: str, name: str, *extra: str, module: bool = False
) -> AsyncIterator[ClientSession]:
    """An MCP session with a server launched for ``name`` in ``user``'s mesh."""
    launch = [sys.executable, "-m", "syntha_redis.cli", "mcp"] if module else \
        [str(Path(sys.executable).parent / "syntha-redis"), "mcp"]
    params = StdioServerParameters(
        command=launch[0],
        args=[*launch[1:], "--user", user, "--agent", name, "--redis-url", redis_url,
              "--key-prefix", prefix, *extra],
        cwd=REPO,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    """(isError, the handler's result dict) of one tool call."""
    result = await session.call_tool(tool, arguments)
    (content,) = result.content
    assert content.type == "text"
    return result.is_error, json.loads(content.text)


async def test_lists_the_tools_of_the_role_with_syntha_schemas(redis_url: str, prefix: str) -> None:
    async with agent(redis_url, prefix, "alice", "boss", "--role", "admin") as admin:
        tools = (await admin.list_tools()).tools
    assert [t.name for t in tools] == list(TOOL_NAMES)
    for tool in tools:
        assert tool.input_schema == get_tool_schema(tool.name)["parameters"]
    async with agent(redis_url, prefix, "alice", "writer") as contributor:
        names = {t.name for t in (await contributor.list_tools()).tools}
    assert "delete_topic" not in names and {"push_context", "get_context"} <= names


async def test_push_and_get_as_the_agent_bound_at_launch(redis_url: str, prefix: str) -> None:
    async with agent(redis_url, prefix, "alice", "researcher", module=True) as session:
        failed, pushed = await call(session, "push_context", key="finding",
                                    value="churn is up", subscribers=["researcher"])
        assert not failed and pushed["success"], pushed
        failed, got = await call(session, "get_context", keys=["finding"])
        assert not failed and got["context"] == {"finding": "churn is up"}
        # a model cannot name another agent: the argument is refused
        spoofed, spoof = await call(session, "push_context", key="spoof", value="x",
                                    agent_name="mallory")
        assert spoofed and "agent_name" in spoof["error"]
    mesh = ContextMesh(user_id="alice", redis_url=redis_url, key_prefix=prefix)
    item = mesh.get_item("finding")
    assert item is not None and item.author == "researcher"
    assert mesh.get_item("spoof") is None
    mesh.close()


async def test_a_server_bound_to_another_user_sees_nothing(redis_url: str, prefix: str) -> None:
    async with agent(redis_url, prefix, "alice", "researcher") as alice:
        failed, _ = await call(alice, "push_context", key="plan", value="secret")
        assert not failed
        async with agent(redis_url, prefix, "bob", "researcher") as bob:
            _, listed = await call(bob, "list_context")
            _, got = await call(bob, "get_context", keys=["plan"])
            _, topics = await call(bob, "discover_topics")
        _, own = await call(alice, "get_context", keys=["plan"])
    assert listed["success"] and listed["total_keys"] == 0
    assert got["success"] and got["context"] == {}
    assert topics["success"] and topics["topics"] == {}
    assert own["context"] == {"plan": "secret"}


async def test_failures_are_error_results_not_protocol_errors(redis_url: str, prefix: str) -> None:
    async with agent(redis_url, prefix, "alice", "writer") as session:
        bad = await call(session, "get_context", keys=5)
        denied = await call(session, "delete_topic", topic="t", confirm=True)
        unknown = await call(session, "drop_database")
        _, still_fine = await call(session, "list_context")
    for failed, result in (bad, denied, unknown):
        assert failed and result["success"] is False and result["error"]
    assert "Access denied" in denied[1]["error"]
    assert still_fine["success"]


async def test_the_handshake_names_the_server_and_its_package_version(
    redis_url: str, prefix: str
) -> None:
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "syntha-redis"),
        args=["mcp", "--user", "alice", "--agent", "a", "--redis-url", redis_url,
              "--key-prefix", prefix],
        cwd=REPO,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        hello = await session.initialize()
    assert hello.server_info.name == "syntha-redis"
    assert hello.server_info.version == metadata.version("syntha_redis") != ""


async def test_calls_run_on_the_async_handler_of_an_async_mesh(
    redis_url: str, prefix: str
) -> None:
    handler = build_handler(Settings(redis_url=redis_url, key_prefix=prefix), "alice", "a")
    assert isinstance(handler, AsyncToolHandler)
    assert isinstance(handler.context_mesh, AsyncContextMesh)
    pushed = await handler.handle_tool_call("push_context", key="k", value="v")
    assert pushed["success"], pushed
    await handler.context_mesh.close()


def test_an_unreachable_redis_fails_at_launch(
    capsys: pytest.CaptureFixture[str], dead_url: str
) -> None:
    code = main(["mcp", "--user", "alice", "--agent", "a", "--redis-url", dead_url])
    assert code == 2 and "cannot reach Redis" in capsys.readouterr().err


def test_the_server_refuses_to_start_without_a_shared_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SYNTHA_REDIS_URL", raising=False)
    assert main(["mcp", "--user", "alice", "--agent", "a"]) == 2
    assert "--redis-url" in capsys.readouterr().err


@pytest.fixture
def http_server(redis_url: str, prefix: str) -> Iterator[str]:
    """``syntha-redis mcp --transport http`` for agent 'researcher' of 'alice'; its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "syntha-redis"), "mcp", "--transport", "http",
         "--port", str(port), "--user", "alice", "--agent", "researcher", "--redis-url",
         redis_url, "--key-prefix", prefix],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        assert f"serving MCP on http://127.0.0.1:{port}/mcp" in proc.stderr.readline()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:  # uvicorn binds just after the line is printed
            try:
                urllib.request.urlopen(base + "/health", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_http_transport_serves_the_same_tools_and_a_health_probe(
    http_server: str, redis_url: str, prefix: str
) -> None:
    with urllib.request.urlopen(http_server + "/health", timeout=5) as reply:
        assert json.loads(reply.read()) == {"status": "alive"}

    async def session() -> tuple[str, dict[str, Any]]:
        async with streamable_http_client(http_server + "/mcp") as (read, write), \
                ClientSession(read, write) as client:
            hello = await client.initialize()
            failed, pushed = await call(client, "push_context", key="over_http", value="yes")
            assert not failed, pushed
            return hello.server_info.version, pushed

    version, _ = anyio.run(session)
    assert version == metadata.version("syntha_redis")
    mesh = ContextMesh(user_id="alice", redis_url=redis_url, key_prefix=prefix)
    item = mesh.get_item("over_http")
    assert item is not None and item.author == "researcher"
    mesh.close()
