"""Syntha's tools in the shapes LLM frameworks expect.

OpenAI and Anthropic get plain dicts plus a call handler; LangGraph gets
dicts carrying a function; LangChain gets ``StructuredTool`` objects and Agno
``Function`` objects. LangChain and Agno are optional: they are imported only
when their adapter builds a tool. Every adapter declares the tool's exact
JSON schema and sends calls through ``ToolHandler.handle_tool_call``, so the
one argument validator decides (LangChain's own pydantic validation would
raise into the agent loop; a ``null`` for an omitted optional argument, which
broke Syntha's LangChain ``push_context``, is simply dropped).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from syntha_redis.agents.schemas import TOOL_NAMES, array_parameters, preview
from syntha_redis.exceptions import SynthaFrameworkError

__all__ = [
    "AgentTools",
    "FrameworkAdapter",
    "OpenAIAdapter",
    "AnthropicAdapter",
    "LangChainAdapter",
    "LangGraphAdapter",
    "AgnoAdapter",
    "FRAMEWORK_ADAPTERS",
    "get_supported_frameworks",
    "create_framework_adapter",
]

Result = dict[str, Any]
Schema = dict[str, Any]


class AgentTools(Protocol):
    """What adapters and the tool factory use of one agent's tools: a
    ``ToolHandler`` (they are built by it, so they name it only by this)."""

    agent_name: str | None
    agent_role: str | None

    def get_available_tools(self) -> list[str]: ...

    def has_tool_access(self, tool_name: str) -> bool: ...

    def get_syntha_schemas_only(self) -> list[dict[str, Any]]: ...

    def handle_tool_call(self, tool_name: str, /, **kwargs: Any) -> Result: ...


def _description(schema: Schema) -> str:
    return str(schema.get("description") or f"Syntha {schema['name']} tool")


class FrameworkAdapter(ABC):
    """Builds one framework's tool objects for the tools a handler may use."""

    framework_name: ClassVar[str]
    install_hint: ClassVar[str] = ""

    def __init__(self, tool_handler: AgentTools) -> None:
        self.tool_handler = tool_handler

    @abstractmethod
    def create_tool(self, tool_name: str, tool_schema: Schema) -> Any:
        """The framework's tool object for one Syntha tool schema."""

    def convert_parameters(self, parameters: Schema) -> Schema:
        """The JSON schema of the parameters, as this framework wants it."""
        return parameters

    def create_tools(self, tools: list[str] | None = None) -> list[Any]:
        """Tool objects for ``tools`` (default: every tool the agent may use)."""
        available = self.tool_handler.get_available_tools()
        unknown = sorted(set(tools or ()) - set(available))
        if unknown:
            raise SynthaFrameworkError(
                f"Tools not available to this agent: {unknown}. Available tools: {available}",
                framework=self.framework_name,
                suggestions=[f"Request only: {', '.join(available)}"],
            )
        built = []
        for schema in self.tool_handler.get_syntha_schemas_only():
            name = schema["name"]
            if name not in available or (tools is not None and name not in tools):
                continue
            try:
                built.append(self.create_tool(name, schema))
            except SynthaFrameworkError:
                raise
            except Exception as e:
                raise SynthaFrameworkError(
                    f"Failed to create {self.framework_name} tool '{name}': {e}",
                    framework=self.framework_name,
                    tool_name=name,
                    cause=e,
                ) from e
        return built

    def create_all_tools(self) -> list[Any]:
        return self.create_tools()

    def convert_arguments(self, tool_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Drop ``None`` (an omitted optional argument) and split ``"a, b"`` into a list
        for list parameters, as Syntha's adapters did."""
        lists = array_parameters(tool_name) if tool_name in TOOL_NAMES else frozenset()
        converted = {}
        for name, value in arguments.items():
            if value is None:
                continue
            if name in lists and isinstance(value, str):
                value = [part.strip() for part in value.split(",")]
            converted[name] = value
        return converted

    def call(self, tool_name: str, arguments: dict[str, Any]) -> Result:
        """Run one call through the handler; a failure also names the tool and framework."""
        result = self.tool_handler.handle_tool_call(
            tool_name, **self.convert_arguments(tool_name, arguments)
        )
        if result.get("success") is False:
            return {**result, "tool_name": tool_name, "framework": self.framework_name}
        return result

    def _json_call(self, tool_name: str) -> Callable[..., str]:
        def run(**arguments: Any) -> str:
            return json.dumps(self.call(tool_name, arguments), indent=2, default=str)

        run.__name__ = tool_name
        return run


def _bad_arguments(error: str, tool_name: str) -> Result:
    return {
        "success": False,
        "error": error,
        "suggestion": f"Send the arguments of {preview(tool_name, 80)} as a JSON object",
        "tool_name": tool_name,
    }


class OpenAIAdapter(FrameworkAdapter):
    framework_name = "openai"
    install_hint = "pip install openai"

    def create_tool(self, tool_name: str, tool_schema: Schema) -> Schema:
        return {
            "type": "function",
            "function": {
                "name": tool_name,
                "description": _description(tool_schema),
                "parameters": self.convert_parameters(tool_schema["parameters"]),
            },
        }

    def create_function_handler(self) -> Callable[[str, str | dict[str, Any] | None], Result]:
        """``handler(name, arguments)`` for a ``tool_calls`` entry; arguments as JSON text."""

        def handle_function_call(name: str, arguments: str | dict[str, Any] | None) -> Result:
            parsed: Any = arguments or {}
            if isinstance(arguments, str):
                try:
                    parsed = json.loads(arguments) if arguments.strip() else {}
                except ValueError as e:
                    return _bad_arguments(f"Function call error: arguments are not JSON: {e}", name)
            if not isinstance(parsed, dict):
                return _bad_arguments(
                    f"Function call error: arguments must be an object, got {preview(parsed)}",
                    name,
                )
            return self.call(name, parsed)

        return handle_function_call


class AnthropicAdapter(FrameworkAdapter):
    framework_name = "anthropic"
    install_hint = "pip install anthropic"

    def create_tool(self, tool_name: str, tool_schema: Schema) -> Schema:
        return {
            "name": tool_name,
            "description": _description(tool_schema),
            "input_schema": self.convert_parameters(tool_schema["parameters"]),
        }

    def create_tool_handler(self) -> Callable[[str, dict[str, Any] | None], Result]:
        """``handler(name, input)`` for a ``tool_use`` content block."""

        def handle_tool_use(name: str, tool_input: dict[str, Any] | None) -> Result:
            if tool_input is not None and not isinstance(tool_input, dict):
                return _bad_arguments(
                    f"Tool use error: input must be an object, got {preview(tool_input)}", name
                )
            return self.call(name, tool_input or {})

        return handle_tool_use


class LangGraphAdapter(FrameworkAdapter):
    framework_name = "langgraph"
    install_hint = "pip install langgraph"

    def create_tool(self, tool_name: str, tool_schema: Schema) -> Schema:
        return {
            "name": tool_name,
            "description": _description(tool_schema),
            "parameters": self.convert_parameters(tool_schema["parameters"]),
            "function": self._json_call(tool_name),
        }


class LangChainAdapter(FrameworkAdapter):
    framework_name = "langchain"
    install_hint = "pip install 'syntha_redis[langchain]'"

    def create_tool(self, tool_name: str, tool_schema: Schema) -> Any:
        try:
            from langchain_core.tools import StructuredTool
        except ImportError as e:
            raise SynthaFrameworkError(
                "LangChain is not installed",
                framework=self.framework_name,
                suggestions=[self.install_hint],
                cause=e,
            ) from e
        run = self._json_call(tool_name)

        async def arun(**arguments: Any) -> str:
            # The mesh client is synchronous and fast; a thread would only add latency.
            return run(**arguments)

        # A JSON-schema args_schema makes LangChain pass arguments through
        # unvalidated, so our validator answers bad input with a result.
        return StructuredTool.from_function(
            func=run,
            coroutine=arun,
            name=tool_name,
            description=_description(tool_schema),
            args_schema=self.convert_parameters(tool_schema["parameters"]),
        )


class AgnoAdapter(FrameworkAdapter):
    framework_name = "agno"
    install_hint = "pip install 'syntha_redis[agno]'"

    def create_tool(self, tool_name: str, tool_schema: Schema) -> Any:
        try:
            from agno.tools.function import Function
        except ImportError as e:
            raise SynthaFrameworkError(
                "Agno is not installed",
                framework=self.framework_name,
                suggestions=[self.install_hint],
                cause=e,
            ) from e
        # skip_entrypoint_processing: Agno keeps our schema instead of deriving
        # one from the Python signature (Syntha generated code with exec for that).
        return Function(
            name=tool_name,
            description=_description(tool_schema),
            parameters=self.convert_parameters(tool_schema["parameters"]),
            entrypoint=self._json_call(tool_name),
            skip_entrypoint_processing=True,
        )


FRAMEWORK_ADAPTERS: dict[str, type[FrameworkAdapter]] = {
    adapter.framework_name: adapter
    for adapter in (
        LangChainAdapter,
        LangGraphAdapter,
        OpenAIAdapter,
        AnthropicAdapter,
        AgnoAdapter,
    )
}


def get_supported_frameworks() -> list[str]:
    return list(FRAMEWORK_ADAPTERS)


def create_framework_adapter(framework_name: str, tool_handler: AgentTools) -> FrameworkAdapter:
    """The adapter for ``framework_name`` (case-insensitive); SynthaFrameworkError if unknown."""
    key = framework_name.lower().strip()
    if key not in FRAMEWORK_ADAPTERS:
        supported = get_supported_frameworks()
        raise SynthaFrameworkError(
            f"Unsupported framework '{framework_name}'. Supported frameworks: {supported}",
            framework=framework_name,
            suggestions=[f"Use one of: {', '.join(supported)}"],
        )
    return FRAMEWORK_ADAPTERS[key](tool_handler)
