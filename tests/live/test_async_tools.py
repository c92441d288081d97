"""AsyncToolHandler gives the same results as ToolHandler."""

from __future__ import annotations

import json
import re
from typing import Any

from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.context import ContextMesh
from syntha_redis.tool_handler import ToolHandler


async def test_async_tool_calls_match_sync_ones(redis_url: str | None, key_prefix: str) -> None:
    amesh = AsyncContextMesh(user_id="async", redis_url=redis_url, key_prefix=key_prefix)
    smesh = ContextMesh(user_id="sync", redis_url=redis_url, key_prefix=key_prefix)
    calls = [
        ("subscribe_to_topics", {"topics": ["deals"]}),
        ("push_context", {"key": "k", "value": '{"n": 1}', "topics": ["deals"]}),
        ("push_context", {"key": "k", "value": "2", "expected_version": 999}),
        ("get_context", {"keys": ["k", "missing"]}),
        ("list_context", {}),
        ("push_context", {"key": 5}),
        ("no_such_tool", {}),
    ]
    a = AsyncToolHandler(amesh, agent_name="agent")
    s = ToolHandler(smesh, agent_name="agent")
    assert a.get_available_tools() == s.get_available_tools()
    for name, args in calls:
        assert same_but_versions(await a.handle_tool_call(name, **args),
                                 s.handle_tool_call(name, **args))


def same_but_versions(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """Equal once versions are masked: each user's counter starts at its own clock."""
    def mask(result: dict[str, Any]) -> str:
        return re.sub(r"\b\d{13,}\b", "<version>", json.dumps(result, sort_keys=True))

    return mask(left) == mask(right)
