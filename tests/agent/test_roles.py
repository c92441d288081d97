"""Access control: role ∩ allowed − denied, predefined roles, handler factories."""

from __future__ import annotations

import logging

import pytest

from syntha_redis import ContextMesh
from syntha_redis.tools import (
    PREDEFINED_ROLES,
    TOOL_NAMES,
    ToolHandler,
    create_multi_agent_handlers,
    create_restricted_handler,
    create_role_based_handler,
    get_role_info,
)

READ = ["get_context", "list_context", "discover_topics"]
WRITE = [*READ, "push_context", "subscribe_to_topics", "unsubscribe_from_topics"]
ROLE_TOOLS = {"readonly": READ, "contributor": WRITE, "moderator": WRITE, "admin": list(TOOL_NAMES)}


def test_predefined_roles_are_syntha_roles() -> None:
    assert {role: sorted(info["tools"]) for role, info in PREDEFINED_ROLES.items()} == {
        role: sorted(tools) for role, tools in ROLE_TOOLS.items()
    }


@pytest.mark.parametrize("role", list(ROLE_TOOLS))
def test_role_based_handler_gets_exactly_its_roles_tools(mesh: ContextMesh, role: str) -> None:
    handler = create_role_based_handler(mesh, "Alice", role)
    assert sorted(handler.get_available_tools()) == sorted(ROLE_TOOLS[role])
    assert handler.agent_role == role


@pytest.mark.parametrize("role", list(ROLE_TOOLS))
def test_set_agent_role_applies_a_predefined_role(mesh: ContextMesh, role: str) -> None:
    handler = ToolHandler(mesh, "Alice")
    handler.set_agent_role(role)
    assert sorted(handler.get_available_tools()) == sorted(ROLE_TOOLS[role])


def test_readonly_agent_cannot_push(mesh: ContextMesh) -> None:
    handler = create_role_based_handler(mesh, "Viewer", "readonly")
    result = handler.handle_tool_call("push_context", key="k", value="v")
    assert result["error"] == "Access denied to tool: push_context"
    assert result["agent_role"] == "readonly" and result["suggestion"]
    assert mesh.get("k") is None


def test_denied_tool_call_is_logged_to_the_security_logger(
    mesh: ContextMesh, caplog: pytest.LogCaptureFixture
) -> None:
    handler = create_role_based_handler(mesh, "Viewer", "readonly")
    with caplog.at_level(logging.INFO, logger="syntha_redis.security"):
        handler.handle_tool_call("delete_topic", topic="sales", confirm=True)
    [record] = [r for r in caplog.records if r.name.startswith("syntha_redis.security")]
    context = record.security_context  # type: ignore[attr-defined]
    assert context["event_type"] == "access_denied"
    assert context["agent_name"] == "Viewer" and context["resource"] == "tool:delete_topic"


def test_promoting_a_role_grants_its_tools(mesh: ContextMesh) -> None:
    handler = create_role_based_handler(mesh, "Alice", "readonly")
    handler.set_agent_role("admin")
    assert handler.has_tool_access("delete_topic")


def test_unknown_role_is_a_value_error(mesh: ContextMesh) -> None:
    with pytest.raises(ValueError, match="Unknown role 'wizard'"):
        create_role_based_handler(mesh, "Alice", "wizard")
    with pytest.raises(ValueError, match="Unknown role"):
        ToolHandler(mesh, "Alice").set_agent_role("wizard")


def test_custom_roles_work_with_create_role_based_handler(mesh: ContextMesh) -> None:
    custom = {"analyst": {"description": "d", "tools": ["get_context", "push_context"]}}
    handler = create_role_based_handler(mesh, "Ann", "analyst", custom)
    assert handler.get_available_tools() == ["get_context", "push_context"]


def test_role_based_access_overrides_a_predefined_role_name(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "Alice", role_based_access={"admin": ["get_context"]})
    handler.set_agent_role("admin")
    assert handler.get_available_tools() == ["get_context"]


def test_access_is_role_and_allowed_minus_denied(mesh: ContextMesh) -> None:
    handler = ToolHandler(
        mesh,
        "Alice",
        allowed_tools=["get_context", "push_context", "delete_topic"],
        denied_tools=["push_context"],
    )
    handler.set_agent_role("contributor")
    assert handler.get_available_tools() == ["get_context"]


def test_empty_allow_list_means_no_tools(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "Alice", allowed_tools=[])
    assert handler.get_available_tools() == []
    assert handler.get_access_summary()["allowed_tools"] == []
    assert handler.handle_tool_call("get_context")["success"] is False


def test_no_allow_list_means_all_tools(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "Alice")
    assert handler.get_available_tools() == list(TOOL_NAMES)
    assert handler.get_access_summary()["allowed_tools"] == "all"


def test_setters_change_access_immediately(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "Alice")
    handler.add_denied_tool("delete_topic")
    assert not handler.has_tool_access("delete_topic")
    handler.remove_denied_tool("delete_topic")
    handler.remove_allowed_tool("push_context")
    assert not handler.has_tool_access("push_context")
    assert handler.has_tool_access("delete_topic")
    handler.add_allowed_tool("push_context")
    assert handler.has_tool_access("push_context")
    handler.set_allowed_tools(["get_context"])
    assert handler.get_available_tools() == ["get_context"]
    handler.set_allowed_tools(None)
    handler.set_denied_tools(["get_context"])
    assert not handler.has_tool_access("get_context")


def test_access_summary_shape(mesh: ContextMesh) -> None:
    handler = create_role_based_handler(mesh, "Viewer", "readonly")
    assert handler.get_access_summary() == {
        "agent_name": "Viewer",
        "agent_role": "readonly",
        "available_tools": READ,
        "denied_tools": [],
        "allowed_tools": "all",
        "total_available": 3,
        "total_possible": 7,
    }


@pytest.mark.parametrize(
    ("level", "tools"),
    [
        ("safe", [t for t in TOOL_NAMES if t != "delete_topic"]),
        ("minimal", ["get_context", "push_context", "list_context"]),
        ("readonly", READ),
    ],
)
def test_restricted_handler_levels(mesh: ContextMesh, level: str, tools: list[str]) -> None:
    assert create_restricted_handler(mesh, "A", level).get_available_tools() == tools


def test_unknown_restriction_level_is_a_value_error(mesh: ContextMesh) -> None:
    with pytest.raises(ValueError, match="Unknown restriction level"):
        create_restricted_handler(mesh, "A", "paranoid")


def test_multi_agent_handlers_from_a_dict(mesh: ContextMesh) -> None:
    handlers = create_multi_agent_handlers(
        mesh,
        {
            "Boss": {"role": "admin"},
            "Viewer": {"role": "readonly"},
            "Analyst": {"allowed_tools": ["get_context"]},
            "Careful": {"denied_tools": ["delete_topic"]},
        },
    )
    assert handlers["Boss"].has_tool_access("delete_topic")
    assert handlers["Viewer"].get_available_tools() == READ
    assert handlers["Analyst"].get_available_tools() == ["get_context"]
    assert not handlers["Careful"].has_tool_access("delete_topic")
    assert handlers["Careful"].agent_name == "Careful"


def test_multi_agent_handlers_from_a_list_subscribe_topics(mesh: ContextMesh) -> None:
    handlers = create_multi_agent_handlers(
        mesh, [{"name": "Sales", "role": "contributor", "topics": ["sales"]}]
    )
    assert handlers["Sales"].agent_role == "contributor"
    assert mesh.get_topics_for_agent("Sales") == ["sales"]


@pytest.mark.parametrize(
    "configs",
    [[{"role": "admin"}], "Boss", {"Boss": {"rol": "admin"}}],
    ids=["list-without-name", "not-a-collection", "misspelt-option"],
)
def test_multi_agent_handlers_reject_bad_configs(mesh: ContextMesh, configs: object) -> None:
    with pytest.raises(ValueError):
        create_multi_agent_handlers(mesh, configs)  # type: ignore[arg-type]


def test_get_role_info() -> None:
    assert set(get_role_info()) == set(ROLE_TOOLS)
    assert get_role_info("readonly")["tools"] == READ
    with pytest.raises(ValueError):
        get_role_info("wizard")


def test_get_role_info_returns_copies() -> None:
    get_role_info("admin")["tools"].clear()
    assert get_role_info("admin")["tools"]
