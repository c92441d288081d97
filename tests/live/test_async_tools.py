"""AsyncToolHandler gives the same results as ToolHandler, on the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from syntha_redis.agents.handler import ToolHandler
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.context import ContextMesh

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("subscribe_to_topics", {"topics": ["deals", "ops"]}),
    ("push_context", {"key": "k", "value": '{"n": 1}', "topics": ["deals"]}),
    ("push_context", {"key": "k", "value": "2", "expected_version": 999}),
    ("push_context", {"key": "private", "value": "x", "subscribers": ["other"]}),
    ("push_context", {"key": "denied", "value": "x", "topics": ["hr"]}),
    ("get_context", {"keys": ["k", "private", "missing"]}),
    ("get_context", {}),
    ("list_context", {}),
    ("discover_topics", {"include_subscriber_names": True}),
    ("unsubscribe_from_topics", {"topics": ["ops", "never"]}),
    ("delete_topic", {"topic": "missing", "confirm": True}),
    ("delete_topic", {"topic": "deals", "confirm": True}),
    ("push_context", {"key": 5}),
    ("get_context", {"keys": [f"k{i}" for i in range(4)]}),
    ("no_such_tool", {}),
]


async def test_async_tool_calls_match_sync_ones(redis_url: str | None, key_prefix: str) -> None:
    def meshes(user: str) -> tuple[AsyncContextMesh, ContextMesh]:
        options: dict[str, Any] = {
            "user_id": user, "redis_url": redis_url, "key_prefix": key_prefix,
            "max_batch_items": 3,
        }
        return AsyncContextMesh(**options), ContextMesh(**options)

    amesh, _ = meshes("async")
    _, smesh = meshes("sync")
    await amesh.set_agent_post_permissions("agent", ["deals"])
    smesh.set_agent_post_permissions("agent", ["deals"])
    a = AsyncToolHandler(amesh, agent_name="agent")
    s = ToolHandler(smesh, agent_name="agent")
    assert a.get_available_tools() == s.get_available_tools()
    for name, args in CALLS:
        assert same_but_versions(await a.handle_tool_call(name, **args),
                                 s.handle_tool_call(name, **args)), name


@pytest.mark.parametrize(
    "configure",
    [
        lambda h: h.set_agent_role("readonly"),
        lambda h: h.set_agent_name(""),
        lambda h: h.set_denied_tools(["push_context"]),
    ],
)
async def test_async_refusals_match_sync_ones(
    redis_url: str | None, key_prefix: str, configure: Callable[[Any], None]
) -> None:
    options = {"user_id": "u", "redis_url": redis_url, "key_prefix": key_prefix}
    a = AsyncToolHandler(AsyncContextMesh(**options), agent_name="agent")
    s = ToolHandler(ContextMesh(**options), agent_name="agent")
    configure(a)
    configure(s)
    args = {"key": "k", "value": "v"}
    assert await a.handle_tool_call("push_context", **args) == s.handle_tool_call(
        "push_context", **args
    )


class _NoThreads(concurrent.futures.ThreadPoolExecutor):
    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a tool call used a worker thread")


async def test_async_tool_calls_need_no_worker_thread(
    redis_url: str | None, key_prefix: str
) -> None:
    mesh = AsyncContextMesh(user_id="u", redis_url=redis_url, key_prefix=key_prefix)
    await mesh.ping()  # connected first: resolving a host name may use the executor
    asyncio.get_running_loop().set_default_executor(_NoThreads())
    handler = AsyncToolHandler(mesh, agent_name="agent")
    for name, args in CALLS:
        result = await handler.handle_tool_call(name, **args)
        assert "Internal error" not in result.get("error", ""), result
    assert (await mesh.get("private")) == "x"


def same_but_versions(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Equal once versions are masked: each user's counter starts at its own clock."""
    def mask(result: dict[str, Any]) -> str:
        return re.sub(r"\b\d{13,}\b", "<version>", json.dumps(result, sort_keys=True))

    return mask(left) == mask(right)
