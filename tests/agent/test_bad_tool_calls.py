"""Bad model input never raises, never writes, and always says what to do instead.

Each row is a call a confused or hostile model might make. Every one must come
back as ``success: False`` with an ``error`` naming the problem and a
``suggestion``, and leave the mesh exactly as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from syntha_redis import ContextMesh
from syntha_redis.tools import ToolHandler
from tests.agent.conftest import mesh_state

HUGE = "x" * 10_000

# (tool, arguments, a fragment the error must contain)
BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    # unknown tools
    ("no_such_tool", {}, "Unknown tool"),
    ("", {}, "Unknown tool"),
    (HUGE, {}, "Unknown tool"),
    ("GET_CONTEXT", {"keys": ["report"]}, "Unknown tool"),
    # missing arguments
    ("push_context", {}, "missing required argument(s) for push_context: key, value"),
    ("push_context", {"key": "k"}, "missing required argument(s) for push_context: value"),
    ("push_context", {"key": None, "value": "v"}, "missing required argument(s)"),
    ("subscribe_to_topics", {}, "missing required argument(s) for subscribe_to_topics"),
    ("unsubscribe_from_topics", {"topics": None}, "missing required argument(s)"),
    ("delete_topic", {"topic": "sales"}, "missing required argument(s) for delete_topic"),
    # extra arguments, including attempts to choose the acting identity
    ("push_context", {"key": "k", "value": "v", "agent_name": "Bob"}, "unexpected argument"),
    ("push_context", {"key": "k", "value": "v", "sender_agent": "Bob"}, "unexpected"),
    ("get_context", {"keys": ["report"], "user_id": "victim"}, "unexpected argument(s)"),
    ("list_context", {"verbose": True}, "unexpected argument(s) for list_context: verbose"),
    ("subscribe_to_topics", {"topics": ["x"], "tool_name": "y"}, "unexpected"),
    # mistyped arguments
    ("push_context", {"key": "k", "value": "v", "topics": "sales"}, "'topics' must be a list"),
    ("push_context", {"key": "k", "value": "v", "subscribers": "Bob"}, "must be a list"),
    ("push_context", {"key": "k", "value": "v", "topics": [1, 2]}, "item 0 is int"),
    ("push_context", {"key": "k", "value": "v", "topics": {"a": 1}}, "must be a list"),
    ("push_context", {"key": "k", "value": "v", "ttl_hours": "abc"}, "'ttl_hours' must be a"),
    ("push_context", {"key": "k", "value": "v", "ttl_hours": True}, "must be a number"),
    ("push_context", {"key": "k", "value": "v", "ttl_hours": float("nan")}, "finite"),
    ("push_context", {"key": "k", "value": "v", "ttl_hours": float("inf")}, "finite"),
    ("push_context", {"key": "k", "value": "v", "ttl_hours": 1e308}, "ttl"),
    ("push_context", {"key": 5, "value": "v"}, "'key' must be a string"),
    ("push_context", {"key": ["k"], "value": "v"}, "'key' must be a string"),
    ("push_context", {"key": "k", "value": "v", "expected_version": "1"}, "integer"),
    ("push_context", {"key": "k", "value": "v", "expected_version": 1.5}, "integer"),
    ("get_context", {"keys": "report"}, "'keys' must be a list of strings"),
    ("get_context", {"keys": 5}, "'keys' must be a list"),
    ("get_context", {"keys": [5]}, "item 0 is int"),
    ("subscribe_to_topics", {"topics": "sales"}, "'topics' must be a list"),
    ("unsubscribe_from_topics", {"topics": {"sales": 1}}, "'topics' must be a list"),
    ("discover_topics", {"include_subscriber_names": "yes"}, "must be a boolean"),
    ("discover_topics", {"include_subscriber_names": 1}, "must be a boolean"),
    ("delete_topic", {"topic": "sales", "confirm": "yes"}, "'confirm' must be a boolean"),
    ("delete_topic", {"topic": ["sales"], "confirm": True}, "'topic' must be a string"),
    # hostile or unusable names
    ("push_context", {"key": "", "value": "v"}, "must not be empty"),
    ("push_context", {"key": "   ", "value": "v"}, "must not be empty"),
    ("push_context", {"key": HUGE, "value": "v"}, "the limit is"),
    ("push_context", {"key": "a\x00b", "value": "v"}, "control characters"),
    ("push_context", {"key": "a{b}", "value": "v"}, "contains { }"),
    ("push_context", {"key": "*", "value": "v"}, "contains *"),
    ("push_context", {"key": "[a-z]?", "value": "v"}, "contains ? [ ]"),
    ("push_context", {"key": "k", "value": "v", "topics": ["{u:victim}"]}, "contains"),
    ("push_context", {"key": "k", "value": "v", "topics": [HUGE]}, "the limit is"),
    ("push_context", {"key": "k", "value": "v", "topics": ["sales\n"]}, "control characters"),
    ("push_context", {"key": "k", "value": "v", "subscribers": ["Bob*"]}, "contains *"),
    ("get_context", {"keys": ["report*"]}, "contains *"),
    ("get_context", {"keys": [HUGE]}, "the limit is"),
    ("subscribe_to_topics", {"topics": [""]}, "must not be empty"),
    ("subscribe_to_topics", {"topics": ["sales", "a\x00"]}, "control characters"),
    ("unsubscribe_from_topics", {"topics": [HUGE]}, "the limit is"),
    ("delete_topic", {"topic": "sa*", "confirm": True}, "contains *"),
    # limits the mesh enforces
    ("push_context", {"key": "k", "value": "x" * (9 << 20)}, "the limit is"),
    ("push_context", {"key": "k", "value": "v", "topics": [f"t{i}" for i in range(257)]}, "limit"),
    # refused by the mesh's rules
    ("push_context", {"key": "k", "value": "v", "topics": ["hr"]}, "may not post to topic 'hr'"),
    ("push_context", {"key": "report", "value": "v", "expected_version": 7}, "not 7"),
    ("push_context", {"key": "fresh", "value": "v", "expected_version": 3}, "version"),
    ("delete_topic", {"topic": "sales", "confirm": False}, "Deletion not confirmed"),
    ("delete_topic", {"topic": "nobody-follows-this", "confirm": True}, "does not exist"),
]


@pytest.fixture
def seeded(mesh: ContextMesh) -> ContextMesh:
    mesh.push("report", {"q3": 42}, topics=["sales"], agent_name="Alice")
    mesh.register_agent_topics("Bob", ["sales"])
    mesh.set_agent_post_permissions("Alice", ["sales", "ops"])
    return mesh


def test_the_table_is_large_enough() -> None:
    assert len(BAD_CALLS) >= 40


@pytest.mark.parametrize(
    ("tool", "arguments", "fragment"),
    BAD_CALLS,
    ids=[f"{i}-{tool[:20]}" for i, (tool, _, _) in enumerate(BAD_CALLS)],
)
def test_bad_call_fails_cleanly_and_changes_nothing(
    seeded: ContextMesh, tool: str, arguments: dict[str, Any], fragment: str
) -> None:
    handler = ToolHandler(seeded, "Alice")
    before = mesh_state(seeded)

    result = handler.handle_tool_call(tool, **arguments)

    assert result["success"] is False
    assert fragment in result["error"]
    assert isinstance(result["suggestion"], str) and result["suggestion"]
    assert mesh_state(seeded) == before
