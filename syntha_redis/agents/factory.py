"""SynthaToolFactory: one entry point to every framework adapter of a ToolHandler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syntha_redis.agents.adapters import (
    FRAMEWORK_ADAPTERS,
    AgentTools,
    AnthropicAdapter,
    FrameworkAdapter,
    OpenAIAdapter,
    create_framework_adapter,
    get_supported_frameworks,
)
from syntha_redis.exceptions import SynthaFrameworkError

__all__ = ["SynthaToolFactory", "create_tool_factory"]


def _key(framework_name: str) -> str:
    return framework_name.lower().strip()


class SynthaToolFactory:
    """Creates and caches framework adapters for one ToolHandler.

    Adapters read the handler's access rules when they build tools, so a
    cached adapter still reflects later ``set_allowed_tools`` calls.
    """

    def __init__(self, tool_handler: AgentTools) -> None:
        self.tool_handler = tool_handler
        self._adapter_cache: dict[str, FrameworkAdapter] = {}

    def get_adapter(self, framework_name: str) -> FrameworkAdapter:
        key = _key(framework_name)
        if key not in self._adapter_cache:
            self._adapter_cache[key] = create_framework_adapter(key, self.tool_handler)
        return self._adapter_cache[key]

    def create_tools(self, framework_name: str) -> list[Any]:
        """The framework's tools for every tool the agent may use."""
        return self.get_adapter(framework_name).create_tools()

    def create_tool(self, framework_name: str, tool_name: str) -> Any:
        """One tool; SynthaFrameworkError if the agent may not use it."""
        if not self.tool_handler.has_tool_access(tool_name):
            available = self.tool_handler.get_available_tools()
            raise SynthaFrameworkError(
                f"Tool '{tool_name}' not available. Available tools: {available}",
                framework=framework_name,
                tool_name=tool_name,
                suggestions=[f"Use one of: {', '.join(available) or 'none'}"],
            )
        return self.get_adapter(framework_name).create_tools([tool_name])[0]

    def get_supported_frameworks(self) -> list[str]:
        return get_supported_frameworks()

    def is_framework_supported(self, framework_name: str) -> bool:
        return _key(framework_name) in FRAMEWORK_ADAPTERS

    def get_framework_info(self, framework_name: str | None = None) -> dict[str, Any]:
        available = self.tool_handler.get_available_tools()
        common = {
            "available_tools": available,
            "agent_name": self.tool_handler.agent_name,
            "agent_role": self.tool_handler.agent_role,
        }
        if framework_name is None:
            supported = self.get_supported_frameworks()
            return {"supported_frameworks": supported, "total_frameworks": len(supported), **common}
        adapter = self.get_adapter(framework_name)
        return {
            "framework": _key(framework_name),
            "adapter_class": type(adapter).__name__,
            "tool_count": len(available),
            **common,
        }

    def create_function_handler(self, framework_name: str) -> Callable[..., Any] | None:
        """The call handler of OpenAI or Anthropic; None for frameworks whose tools run
        themselves."""
        adapter = self.get_adapter(framework_name)
        if isinstance(adapter, OpenAIAdapter):
            return adapter.create_function_handler()
        if isinstance(adapter, AnthropicAdapter):
            return adapter.create_tool_handler()
        return None

    def clear_cache(self) -> None:
        self._adapter_cache.clear()

    def get_cache_info(self) -> dict[str, Any]:
        return {
            "cached_frameworks": list(self._adapter_cache),
            "cache_size": len(self._adapter_cache),
            "supported_frameworks": self.get_supported_frameworks(),
        }

    def validate_framework_requirements(self, framework_name: str) -> dict[str, Any]:
        """Whether tools for the framework can be built here (its package installed)."""
        key = _key(framework_name)
        if not self.is_framework_supported(key):
            supported = self.get_supported_frameworks()
            return {
                "valid": False,
                "framework": key,
                "error": f"Unsupported framework: {framework_name}",
                "suggestion": f"Use one of: {', '.join(supported)}",
                "supported_frameworks": supported,
            }
        adapter = self.get_adapter(key)
        available = self.tool_handler.get_available_tools()
        try:
            # Building one tool imports the framework's package.
            adapter.create_tools(available[:1])
        except SynthaFrameworkError as e:
            return {
                "valid": False,
                "framework": key,
                "error": e.message,
                "suggestion": adapter.install_hint or e.suggestion,
            }
        return {
            "valid": True,
            "framework": key,
            "adapter_class": type(adapter).__name__,
            "available_tools": available,
        }

    def create_hybrid_integration(
        self, framework_name: str, existing_tools: list[Any] | None = None
    ) -> dict[str, Any]:
        """The user's tools and Syntha's in one list, plus the call handler if any."""
        syntha_tools = self.create_tools(framework_name)
        existing = list(existing_tools or [])
        tools = existing + syntha_tools
        return {
            "framework": _key(framework_name),
            "tools": tools,
            "syntha_tools": syntha_tools,
            "existing_tools": existing,
            "total_tools": len(tools),
            "syntha_tool_count": len(syntha_tools),
            "existing_tool_count": len(existing),
            "handler": self.create_function_handler(framework_name),
            "tool_handler": self.tool_handler,
        }


def create_tool_factory(tool_handler: AgentTools) -> SynthaToolFactory:
    return SynthaToolFactory(tool_handler)
