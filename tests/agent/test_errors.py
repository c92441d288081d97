"""Errors from below the tools become results with the error's message and suggestion."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh
from syntha_redis.core.store import Call
from syntha_redis.tools import ToolHandler
from tests.support.recording import RecordingStore


def test_quota_error_becomes_a_failed_push(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_items_per_user=1)
    handler = ToolHandler(mesh, "Alice")
    handler.handle_tool_call("push_context", key="first", value="v")
    result = handler.handle_tool_call("push_context", key="second", value="v")
    assert result["success"] is False and "quota" in result["error"]
    assert result["suggestion"] == "Remove items that are no longer needed, or give them a TTL"
    assert result["key"] == "second" and mesh.get("second") is None


def test_unreachable_redis_becomes_a_result_naming_the_server() -> None:
    mesh = ContextMesh(
        user_id="u", redis_url="redis://127.0.0.1:1/0", connect_timeout=0.2, retries=0
    )
    result = ToolHandler(mesh, "Alice").handle_tool_call("list_context")
    assert result["success"] is False
    assert "127.0.0.1:1" in result["error"] + result["suggestion"]
    assert result["keys_by_topic"] == {} and result["all_accessible_keys"] == []


def test_an_unexpected_exception_is_a_result_and_a_logged_traceback(
    mesh: ContextMesh, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(call: Call) -> object:
        raise RuntimeError("disk on fire")

    # the store is the tools' one path to Redis; a bug below it must still be a result
    RecordingStore.of(mesh, fail=broken)
    with caplog.at_level(logging.ERROR, logger="syntha_redis.tools"):
        result = ToolHandler(mesh, "Alice").handle_tool_call("get_context")
    assert result["success"] is False and "disk on fire" in result["error"]
    assert result["suggestion"] and result["context"] == {}
    assert caplog.records[-1].exc_info is not None


def test_failure_keys_echo_the_models_arguments(alice: ToolHandler) -> None:
    result = alice.handle_tool_call("subscribe_to_topics", topics="sales")
    assert result["agent"] == "Alice" and result["topics"] == "sales"
