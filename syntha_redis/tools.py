"""Agent tools: Syntha's ``syntha.tools`` module.

The handler lives in :mod:`syntha_redis.agents.handler`, the schemas and their
validator in :mod:`syntha_redis.agents.schemas`, what each tool does in
:mod:`syntha_redis.agents.calls` and the roles in :mod:`syntha_redis.agents.roles`;
this module gathers them and adds the helpers that build handlers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from syntha_redis.agents.handler import HybridToolHandler, ToolHandler, UserToolHandler
from syntha_redis.agents.roles import PREDEFINED_ROLES, RESTRICTION_LEVELS, get_role_info
from syntha_redis.agents.schemas import TOOL_NAMES, get_all_tool_schemas, get_tool_schema

if TYPE_CHECKING:
    from syntha_redis.context import ContextMesh

__all__ = [
    "ToolHandler",
    "HybridToolHandler",
    "TOOL_NAMES",
    "PREDEFINED_ROLES",
    "get_all_tool_schemas",
    "get_tool_schema",
    "get_role_info",
    "merge_tool_schemas",
    "create_hybrid_tool_handler",
    "create_role_based_handler",
    "create_restricted_handler",
    "create_multi_agent_handlers",
    "get_context_tool_schema",
    "get_push_context_tool_schema",
    "get_list_context_tool_schema",
    "get_subscribe_to_topics_tool_schema",
    "get_discover_topics_tool_schema",
    "get_unsubscribe_from_topics_tool_schema",
    "get_delete_topic_tool_schema",
]

log = logging.getLogger("syntha_redis.tools")

CONFLICT_POLICIES = ("warn", "skip", "prefix")


# Syntha's per-tool schema getters.
def get_context_tool_schema() -> dict[str, Any]:
    return get_tool_schema("get_context")


def get_push_context_tool_schema() -> dict[str, Any]:
    return get_tool_schema("push_context")


def get_list_context_tool_schema() -> dict[str, Any]:
    return get_tool_schema("list_context")


def get_subscribe_to_topics_tool_schema() -> dict[str, Any]:
    return get_tool_schema("subscribe_to_topics")


def get_discover_topics_tool_schema() -> dict[str, Any]:
    return get_tool_schema("discover_topics")


def get_unsubscribe_from_topics_tool_schema() -> dict[str, Any]:
    return get_tool_schema("unsubscribe_from_topics")


def get_delete_topic_tool_schema() -> dict[str, Any]:
    return get_tool_schema("delete_topic")


def merge_tool_schemas(
    syntha_tools: list[dict[str, Any]],
    user_tools: list[dict[str, Any]],
    handle_conflicts: str = "warn",
) -> list[dict[str, Any]]:
    """Syntha's schemas followed by the user's.

    A user tool whose name is taken is dropped (``"warn"`` logs a warning,
    ``"skip"`` does not) or renamed ``user_<name>`` (``"prefix"``).
    """
    if handle_conflicts not in CONFLICT_POLICIES:
        raise ValueError(
            f"handle_conflicts must be one of {CONFLICT_POLICIES}, got {handle_conflicts!r}"
        )
    taken = {tool["name"] for tool in syntha_tools}
    merged = list(syntha_tools)
    for tool in user_tools:
        name = tool.get("name")
        if name not in taken:
            merged.append(tool)
        elif handle_conflicts == "prefix":
            merged.append({**tool, "name": f"user_{name}"})
        elif handle_conflicts == "warn":
            log.warning("tool name conflict %r: the user tool was skipped", name)
    return merged


def create_hybrid_tool_handler(
    context_mesh: ContextMesh,
    agent_name: str,
    user_tool_handler: UserToolHandler | None = None,
) -> HybridToolHandler:
    """A callable handling Syntha's tools for ``agent_name`` and the user's tools."""
    return ToolHandler(context_mesh, agent_name).create_hybrid_handler(user_tool_handler)


def create_role_based_handler(
    context_mesh: ContextMesh,
    agent_name: str,
    role: str,
    custom_roles: dict[str, dict[str, Any]] | None = None,
) -> ToolHandler:
    """A handler limited to ``role``'s tools; ValueError for an unknown role."""
    roles = {**PREDEFINED_ROLES, **(custom_roles or {})}
    if role not in roles:
        raise ValueError(f"Unknown role '{role}'. Available roles: {list(roles)}")
    tools = list(roles[role]["tools"])
    handler = ToolHandler(context_mesh, agent_name, role_based_access={role: tools})
    handler.set_agent_role(role)
    return handler


def create_restricted_handler(
    context_mesh: ContextMesh, agent_name: str, restriction_level: str = "safe"
) -> ToolHandler:
    """``safe`` (all but delete_topic), ``minimal`` (get, push, list) or ``readonly``."""
    if restriction_level not in RESTRICTION_LEVELS:
        raise ValueError(
            f"Unknown restriction level '{restriction_level}'. "
            f"Available levels: {list(RESTRICTION_LEVELS)}"
        )
    allowed, denied = RESTRICTION_LEVELS[restriction_level]
    return ToolHandler(context_mesh, agent_name, allowed_tools=allowed, denied_tools=denied)


_HANDLER_OPTIONS = frozenset(
    {"role", "custom_roles", "allowed_tools", "denied_tools", "role_based_access"}
)


def create_multi_agent_handlers(
    context_mesh: ContextMesh, agent_configs: dict[str, dict[str, Any]] | list[dict[str, Any]]
) -> dict[str, ToolHandler]:
    """Handlers for several agents from ``{name: config}`` or ``[{"name": ..., ...}]``.

    A config holds ``role`` (and optionally ``custom_roles``), or
    ``allowed_tools`` / ``denied_tools`` / ``role_based_access``; ``topics``
    subscribes the agent (Syntha ignored it). Other keys are a ValueError.
    """
    if isinstance(agent_configs, list):
        if not all(isinstance(c, dict) and "name" in c for c in agent_configs):
            raise ValueError("Each agent config in list form must be a dict with a 'name' field")
        configs = {c["name"]: {k: v for k, v in c.items() if k != "name"} for c in agent_configs}
    elif isinstance(agent_configs, dict):
        configs = agent_configs
    else:
        raise ValueError(
            "agent_configs must be a dict of name->config or a list of configs with 'name'"
        )

    handlers = {}
    for name, config in configs.items():
        unknown = set(config) - _HANDLER_OPTIONS - {"topics"}
        if unknown:
            raise ValueError(f"Unknown option(s) for agent {name!r}: {sorted(unknown)}")
        if "role" in config:
            handler = create_role_based_handler(
                context_mesh, name, config["role"], config.get("custom_roles")
            )
        else:
            handler = ToolHandler(
                context_mesh,
                name,
                allowed_tools=config.get("allowed_tools"),
                denied_tools=config.get("denied_tools"),
                role_based_access=config.get("role_based_access"),
            )
        if config.get("topics"):
            context_mesh.register_agent_topics(name, list(config["topics"]))
        handlers[name] = handler
    return handlers
