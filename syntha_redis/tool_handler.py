"""ToolHandler: one agent's gateway to the mesh through LLM tool calls.

The agent's identity is the handler's ``agent_name``, set by the application,
never taken from tool arguments, so a model cannot act as another agent.
Access is the tools of the agent's role ∩ ``allowed_tools`` −
``denied_tools`` (``None`` means no restriction, ``[]`` means none allowed).
``BaseToolHandler`` holds that access control and the schemas, shared with
``AsyncToolHandler``; what a tool does is ``syntha_redis.tool_calls``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from syntha_redis.logging import get_security_logger
from syntha_redis.roles import PREDEFINED_ROLES
from syntha_redis.tool_calls import ToolCall
from syntha_redis.tool_factory import SynthaToolFactory
from syntha_redis.tool_schemas import TOOL_NAMES, get_all_tool_schemas, preview

if TYPE_CHECKING:
    from syntha_redis.context import BaseContextMesh, ContextMesh

__all__ = ["BaseToolHandler", "ToolHandler", "HybridToolHandler"]

log = logging.getLogger("syntha_redis.tools")
security = get_security_logger("tools")

Result = dict[str, Any]
UserToolHandler = Callable[..., Any]
MeshT = TypeVar("MeshT", bound="BaseContextMesh")


class BaseToolHandler(Generic[MeshT]):
    """One agent's access to the seven tools: roles, allow/deny lists, schemas."""

    def __init__(
        self,
        context_mesh: MeshT,
        agent_name: str | None = None,
        allowed_tools: list[str] | None = None,
        denied_tools: list[str] | None = None,
        role_based_access: dict[str, list[str]] | None = None,
    ) -> None:
        self.context_mesh = context_mesh
        self.agent_name = agent_name
        self.allowed_tools: set[str] | None = None if allowed_tools is None else set(allowed_tools)
        self.denied_tools: set[str] = set(denied_tools or ())
        self.role_based_access: dict[str, list[str]] = dict(role_based_access or {})
        self.agent_role: str | None = None

    # -- access control ------------------------------------------------------

    def _role_tools(self) -> list[str] | None:
        role = self.agent_role
        if role is None:
            return None
        if role in self.role_based_access:
            return self.role_based_access[role]
        tools: list[str] = PREDEFINED_ROLES[role]["tools"]
        return tools

    def get_available_tools(self) -> list[str]:
        """The tools this agent may call, in Syntha's order."""
        role_tools = self._role_tools()
        return [
            name
            for name in TOOL_NAMES
            if (role_tools is None or name in role_tools)
            and (self.allowed_tools is None or name in self.allowed_tools)
            and name not in self.denied_tools
        ]

    def has_tool_access(self, tool_name: str) -> bool:
        return tool_name in self.get_available_tools()

    def set_agent_name(self, agent_name: str) -> None:
        self.agent_name = agent_name

    def set_agent_role(self, role: str | None) -> None:
        """Apply ``role`` (from ``role_based_access`` or PREDEFINED_ROLES); None clears it."""
        if role is not None and role not in self.role_based_access and role not in PREDEFINED_ROLES:
            known = sorted({*self.role_based_access, *PREDEFINED_ROLES})
            raise ValueError(f"Unknown role '{role}'. Available roles: {known}")
        self.agent_role = role

    def set_allowed_tools(self, allowed_tools: list[str] | None) -> None:
        self.allowed_tools = None if allowed_tools is None else set(allowed_tools)

    def set_denied_tools(self, denied_tools: list[str]) -> None:
        self.denied_tools = set(denied_tools)

    def add_allowed_tool(self, tool_name: str) -> None:
        # With no allow-list every tool is already allowed; adding one keeps that.
        if self.allowed_tools is not None:
            self.allowed_tools.add(tool_name)

    def remove_allowed_tool(self, tool_name: str) -> None:
        if self.allowed_tools is None:
            self.allowed_tools = set(TOOL_NAMES)
        self.allowed_tools.discard(tool_name)

    def add_denied_tool(self, tool_name: str) -> None:
        self.denied_tools.add(tool_name)

    def remove_denied_tool(self, tool_name: str) -> None:
        self.denied_tools.discard(tool_name)

    def get_access_summary(self) -> dict[str, Any]:
        available = self.get_available_tools()
        return {
            "agent_name": self.agent_name,
            "agent_role": self.agent_role,
            "available_tools": available,
            "denied_tools": sorted(self.denied_tools),
            "allowed_tools": "all" if self.allowed_tools is None else sorted(self.allowed_tools),
            "total_available": len(available),
            "total_possible": len(TOOL_NAMES),
        }

    def _refusal(self, tool_name: str) -> Result | None:
        """The result for a call this agent may not make (unknown or denied tool)."""
        available = self.get_available_tools()
        if not isinstance(tool_name, str) or tool_name not in TOOL_NAMES:
            # repr() of a non-string could be huge or nested past the recursion limit
            shown = (
                preview(tool_name, 80)
                if isinstance(tool_name, str)
                else f"a {type(tool_name).__name__}, not a tool name"
            )
            return {
                "success": False,
                "error": f"Unknown tool: {shown}",
                "suggestion": f"Call one of your tools: {', '.join(available) or 'none'}",
                "available_tools": available,
            }
        if tool_name not in available:
            security.log_access_attempt(
                self.agent_name or "<unnamed>",
                f"tool:{tool_name}",
                success=False,
                reason=f"role={self.agent_role}",
            )
            return {
                "success": False,
                "error": f"Access denied to tool: {tool_name}",
                "reason": f"Agent '{self.agent_name}' does not have permission to use this tool",
                "suggestion": f"Use one of your tools instead: {', '.join(available) or 'none'}",
                "available_tools": available,
                "agent_role": self.agent_role,
            }
        return None

    def _tool_call(self, tool_name: str, arguments: dict[str, Any]) -> ToolCall:
        return ToolCall(self.context_mesh._ops, tool_name, self.agent_name, arguments)

    # -- schemas -----------------------------------------------------------------

    def get_schemas(self, merge_with: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Schemas of the tools this agent may use, after ``merge_with`` if given.

        A Syntha tool whose name clashes with one in ``merge_with`` is renamed
        ``syntha_<name>``; the hybrid handler routes that name back.
        """
        available = set(self.get_available_tools())
        schemas = [s for s in get_all_tool_schemas() if s["name"] in available]
        if merge_with is None:
            return schemas
        taken = {schema.get("name") for schema in merge_with}
        merged = list(merge_with)
        for schema in schemas:
            if schema["name"] in taken:
                log.info(
                    "renamed Syntha tool %r to 'syntha_%s' to avoid a clash",
                    schema["name"],
                    schema["name"],
                )
                schema["description"] = f"[Syntha] {schema['description']}"
                schema["name"] = f"syntha_{schema['name']}"
            merged.append(schema)
        return merged

    def get_syntha_schemas_only(self) -> list[dict[str, Any]]:
        """All seven schemas, whatever this agent may use."""
        return get_all_tool_schemas()


class ToolHandler(BaseToolHandler["ContextMesh"]):
    """Runs the seven Syntha tools for one agent, with access control."""

    def __init__(
        self,
        context_mesh: ContextMesh,
        agent_name: str | None = None,
        allowed_tools: list[str] | None = None,
        denied_tools: list[str] | None = None,
        role_based_access: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(context_mesh, agent_name, allowed_tools, denied_tools, role_based_access)
        self.tool_factory = SynthaToolFactory(self)

    # -- calls -----------------------------------------------------------------

    @property
    def all_handlers(self) -> dict[str, Callable[..., Result]]:
        """Tool name → callable, for every tool (Syntha exposes this mapping)."""
        return {name: functools.partial(self.handle_tool_call, name) for name in TOOL_NAMES}

    @property
    def handlers(self) -> dict[str, Callable[..., Result]]:
        """Tool name → callable, for the tools this agent may use."""
        return {
            name: functools.partial(self.handle_tool_call, name)
            for name in self.get_available_tools()
        }

    def handle_tool_call(self, tool_name: str, /, **kwargs: Any) -> Result:
        """Run one tool call from a model; returns a result dict and never raises."""
        refusal = self._refusal(tool_name)
        if refusal is not None:
            return refusal
        call = self._tool_call(tool_name, kwargs)
        mesh = self.context_mesh
        try:
            result = mesh._store.run(call.operation())
        except Exception as e:
            return call.failure(e)
        return result

    # Syntha's per-tool methods. Each is handle_tool_call for its tool, so the
    # handler's access rules apply (Syntha's skipped them).
    def handle_get_context(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("get_context", **kwargs)

    def handle_push_context(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("push_context", **kwargs)

    def handle_list_context(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("list_context", **kwargs)

    def handle_subscribe_to_topics(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("subscribe_to_topics", **kwargs)

    def handle_discover_topics(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("discover_topics", **kwargs)

    def handle_unsubscribe_from_topics(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("unsubscribe_from_topics", **kwargs)

    def handle_delete_topic(self, **kwargs: Any) -> Result:
        return self.handle_tool_call("delete_topic", **kwargs)

    def create_hybrid_handler(
        self, user_tool_handler: UserToolHandler | None = None
    ) -> HybridToolHandler:
        """A callable ``(tool_name, **kwargs)`` for Syntha's tools and the user's."""
        return HybridToolHandler(self, user_tool_handler)

    # -- frameworks ----------------------------------------------------------------

    def get_tools_for_framework(self, framework_name: str) -> list[Any]:
        return self.tool_factory.create_tools(framework_name)

    def get_langchain_tools(self) -> list[Any]:
        return self.get_tools_for_framework("langchain")

    def get_langgraph_tools(self) -> list[Any]:
        return self.get_tools_for_framework("langgraph")

    def get_openai_functions(self) -> list[Any]:
        return self.get_tools_for_framework("openai")

    def get_anthropic_tools(self) -> list[Any]:
        return self.get_tools_for_framework("anthropic")

    def get_agno_tools(self) -> list[Any]:
        return self.get_tools_for_framework("agno")

    def get_framework_handler(self, framework_name: str) -> Callable[..., Result] | None:
        return self.tool_factory.create_function_handler(framework_name)

    def create_framework_integration(
        self, framework_name: str, existing_tools: list[Any] | None = None
    ) -> dict[str, Any]:
        return self.tool_factory.create_hybrid_integration(framework_name, existing_tools)

    def get_supported_frameworks(self) -> list[str]:
        return self.tool_factory.get_supported_frameworks()

    def validate_framework(self, framework_name: str) -> dict[str, Any]:
        return self.tool_factory.validate_framework_requirements(framework_name)


class HybridToolHandler:
    """Routes Syntha tool names (and ``syntha_``-renamed ones) to a ToolHandler,
    everything else to the user's own handler."""

    def __init__(
        self, syntha_handler: ToolHandler, user_tool_handler: UserToolHandler | None = None
    ) -> None:
        self.syntha_handler = syntha_handler
        self.user_tool_handler = user_tool_handler
        self.get_syntha_schemas = syntha_handler.get_syntha_schemas_only
        self.handle_syntha_tool = syntha_handler.handle_tool_call

    def __call__(self, tool_name: str, /, **kwargs: Any) -> Any:
        name = tool_name.removeprefix("syntha_") if isinstance(tool_name, str) else tool_name
        if name in TOOL_NAMES:
            return self.syntha_handler.handle_tool_call(name, **kwargs)
        if self.user_tool_handler is None:
            return {
                "success": False,
                "error": f"Unknown tool: {preview(tool_name, 80)}",
                "suggestion": "Call one of: "
                + ", ".join(self.syntha_handler.get_available_tools()),
                "syntha_tools": self.syntha_handler.get_available_tools(),
            }
        try:
            return self.user_tool_handler(tool_name, **kwargs)
        except Exception as e:
            # The user's tool failing must look like any other failed tool call.
            return {
                "success": False,
                "error": f"User tool handler error: {e}",
                "suggestion": "Check the arguments of the user tool and retry",
            }
