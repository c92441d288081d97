"""The seven agent tools as JSON schemas, and the one validator of their arguments.

The schema texts are Syntha's, word for word, so prompts tuned for Syntha keep
working; ``push_context`` gains the optional ``expected_version``
(compare-and-set). :func:`validate_arguments` checks a model's arguments
against these schemas: every tool call goes through it before any mesh call,
so a tool never sees a missing, extra or mistyped argument.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from syntha_redis.core.keys import validate_identifier
from syntha_redis.exceptions import SynthaValidationError

__all__ = [
    "TOOL_NAMES",
    "get_all_tool_schemas",
    "get_tool_schema",
    "array_parameters",
    "describe_parameters",
    "validate_arguments",
    "preview",
]


def _text(*lines: str) -> str:
    # Syntha's descriptions are indented triple-quoted strings; rebuilding them
    # line by line reproduces them exactly without trailing whitespace here.
    return "\n        ".join(lines)


_NO_AGENT_NAME = "You don't need to specify your agent name - the system knows who you are."


def _strings(description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


_SCHEMAS: tuple[dict[str, Any], ...] = (
    {
        "name": "get_context",
        "description": _text(
            "Retrieve specific context from the shared knowledge base.",
            "",
            "💡 TIP: Use 'list_context' first to see what's available!",
            "",
            _NO_AGENT_NAME,
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "keys": _strings(
                    "Specific context keys to retrieve. Must be a list of strings. "
                    "Use list_context to see available options."
                )
            },
            "required": [],
        },
    },
    {
        "name": "push_context",
        "description": _text(
            "Share context with other agents through flexible routing options.",
            "",
            "🎯 ROUTING OPTIONS (choose one or combine):",
            "",
            "1. **Topic Broadcasting** (RECOMMENDED):",
            '   - Use \'topics\' parameter: ["sales", "support"]',
            "   - Routes to agents subscribed to those topics",
            "   - Best for: workflows, broadcasts, team coordination",
            "",
            "2. **Direct Agent Targeting**:",
            '   - Use \'subscribers\' parameter: ["Agent1", "Agent2"]',
            "   - Routes only to those specific agents",
            "   - Best for: private messages, specific coordination",
            "",
            "3. **Combined Routing** (NEW):",
            "   - Use both 'topics' and 'subscribers'",
            "   - Routes to topic subscribers PLUS direct subscribers",
            '   - Best for: "notify sales team AND the manager"',
            "",
            "💡 TIP: Use 'discover_topics' first to see what topics exist and have subscribers!",
            "",
            _NO_AGENT_NAME,
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "key": {"type": "string", "description": "Unique identifier for this context"},
                "value": {"type": "string", "description": "The context data to share"},
                "topics": _strings(
                    "Topics to broadcast to. Must be a list of strings (not a comma-separated "
                    "string). Example: ['sales', 'marketing', 'support']"
                ),
                "subscribers": _strings(
                    "Specific agent names to send this context to. Must be a list of strings. "
                    "Example: ['ManagerAgent', 'AdminAgent']"
                ),
                "ttl_hours": {
                    "type": "number",
                    "description": "How long context should remain available (hours). "
                    "Default: 24 hours",
                },
                "expected_version": {
                    "type": "integer",
                    "description": "Optional compare-and-set: only write if the item is still "
                    "at this version (the 'version' a previous push or get returned). "
                    "On a conflict you get the current version and value back.",
                },
            },
            "required": ["key", "value"],
        },
    },
    {
        "name": "list_context",
        "description": _text(
            "List all context keys you have access to, organized by topic. ",
            "",
            "⚠️ IMPORTANT: Use this tool FIRST before trying to retrieve context!",
            "This shows you what context is available so you can decide which keys to retrieve.",
            "",
            _NO_AGENT_NAME,
        ),
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
    {
        "name": "subscribe_to_topics",
        "description": _text(
            "Subscribe to specific topics to receive relevant context.",
            "",
            "After subscribing, you'll automatically receive context that other agents push "
            "to these topics.",
            "",
            _NO_AGENT_NAME,
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "topics": _strings(
                    "Topics you want to receive context for. Must be a list of strings. "
                    "Example: ['sales', 'customer_data', 'pricing']"
                )
            },
            "required": ["topics"],
        },
    },
    {
        "name": "discover_topics",
        "description": _text(
            "Discover available topics in the system and see subscriber counts.",
            "",
            "🎯 Use this BEFORE pushing context to understand:",
            "- What topics exist in the system",
            "- How many agents are subscribed to each topic",
            "- Popular topics vs niche ones",
            "",
            "This helps you choose the right topics for your context.",
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "include_subscriber_names": {
                    "type": "boolean",
                    "description": "Whether to include names of subscribers for each topic "
                    "(default: false)",
                }
            },
            "required": [],
        },
    },
    {
        "name": "unsubscribe_from_topics",
        "description": _text(
            "Unsubscribe from specific topics to stop receiving context from them.",
            "",
            "This will remove you from the specified topics while keeping your other topic "
            "subscriptions intact.",
            "",
            _NO_AGENT_NAME,
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "topics": _strings(
                    "Topics you want to unsubscribe from. Must be a list of strings. "
                    "Example: ['sales', 'old_projects']"
                )
            },
            "required": ["topics"],
        },
    },
    {
        "name": "delete_topic",
        "description": _text(
            "Delete an entire topic and all its associated context.",
            "",
            "⚠️ WARNING: This is a destructive operation that will:",
            "- Remove the topic from all agent subscriptions",
            "- Delete all context items that were only pushed to this topic",
            "- Cannot be undone",
            "",
            "Use with caution! Consider checking topic subscribers first with discover_topics.",
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "topic": {"type": "string", "description": "Name of the topic to delete"},
                "confirm": {
                    "type": "boolean",
                    "description": "Confirmation that you want to delete this topic (must be true)",
                },
            },
            "required": ["topic", "confirm"],
        },
    },
)

_BY_NAME = {schema["name"]: schema for schema in _SCHEMAS}
TOOL_NAMES: tuple[str, ...] = tuple(_BY_NAME)


def get_all_tool_schemas() -> list[dict[str, Any]]:
    """All seven schemas, as fresh copies the caller may modify."""
    return copy.deepcopy(list(_SCHEMAS))


def get_tool_schema(name: str) -> dict[str, Any]:
    """One tool's schema (a fresh copy); KeyError for an unknown tool."""
    return copy.deepcopy(_BY_NAME[name])


def array_parameters(tool: str) -> frozenset[str]:
    """Names of ``tool``'s list-of-strings parameters."""
    properties = _BY_NAME[tool]["parameters"]["properties"]
    return frozenset(name for name, spec in properties.items() if spec["type"] == "array")


def describe_parameters(tool: str) -> str:
    """``"key: string (required), topics: array of strings, ..."``, for suggestions."""
    parameters = _BY_NAME[tool]["parameters"]
    required = set(parameters["required"])
    parts = []
    for name, spec in parameters["properties"].items():
        kind = "array of strings" if spec["type"] == "array" else spec["type"]
        parts.append(f"{name}: {kind}{' (required)' if name in required else ''}")
    return ", ".join(parts) if parts else "no arguments"


# ``value`` is declared a string so models send text (parsed as JSON when it is
# JSON), but Python callers of Syntha pass dicts and lists, which Syntha stored
# unchanged: keep accepting any value there.
_ANY_VALUE = {("push_context", "value")}

# Names a model writes (keys, topics, agents) are identifiers. The mesh encodes
# any character losslessly, but a model-supplied name with Redis pattern or
# hash-tag syntax is a sign of injection or confusion, so the tool boundary
# refuses it with a suggestion instead of storing it. ':' stays allowed: models
# name keys "customer:42" as people do.
_FORBIDDEN_IN_NAMES = frozenset("{}*?[]")

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
}


_EXPECTED = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true or false)",
    "array": "a list of strings",
}


def _problem(tool: str, message: str, field: str | None = None) -> SynthaValidationError:
    return SynthaValidationError(
        message,
        field=field,
        suggestions=[f"Call {tool} with: {describe_parameters(tool)}"],
    )


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_type(tool: str, name: str, spec: dict[str, Any], value: Any) -> None:
    expected = spec["type"]
    ok = isinstance(value, _PYTHON_TYPES[expected])
    if expected != "boolean" and isinstance(value, bool):
        ok = False  # bool is an int in Python, never a number in JSON
    if expected == "integer" and isinstance(value, float) and value.is_integer():
        ok = True  # JSON has one number type: 3.0 is an integer
    if not ok:
        raise _problem(
            tool,
            f"'{name}' must be {_EXPECTED[expected]}, got {_type_name(value)} {preview(value)}",
            name,
        )
    if expected == "number" and not math.isfinite(value):
        raise _problem(tool, f"'{name}' must be a finite number, got {value}", name)
    if expected == "array":
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _problem(
                    tool,
                    f"'{name}' must be a list of strings; item {index} is "
                    f"{_type_name(item)} {preview(item)}",
                    name,
                )


def preview(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, to quote model input in messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_name(tool: str, field: str, name: str, max_length: int) -> None:
    try:
        validate_identifier(name, field, max_length)
    except SynthaValidationError as e:
        raise _problem(tool, e.message, field) from None
    bad = sorted(set(name) & _FORBIDDEN_IN_NAMES)
    if bad:
        raise SynthaValidationError(
            f"{field} {preview(name)} contains {' '.join(bad)}",
            field=field,
            suggestions=[
                f"Use a {field} without {' '.join(sorted(_FORBIDDEN_IN_NAMES))}, "
                "e.g. letters, digits, '_', '-' and '.'"
            ],
        )


def validate_arguments(
    tool: str, arguments: dict[str, Any], *, max_key_length: int, max_name_length: int
) -> dict[str, Any]:
    """The arguments of a call to ``tool``, checked against its schema.

    Returns them without ``None`` values (frameworks send ``null`` for an
    optional argument the model left out). Raises SynthaValidationError naming
    the first problem, with the tool's parameters as the suggestion.
    """
    parameters = _BY_NAME[tool]["parameters"]
    properties: dict[str, Any] = parameters["properties"]
    given = {name: value for name, value in arguments.items() if value is not None}

    unexpected = sorted(set(given) - set(properties))
    if unexpected:
        raise _problem(tool, f"unexpected argument(s) for {tool}: {', '.join(unexpected)}")
    missing = [name for name in parameters["required"] if name not in given]
    if missing:
        raise _problem(tool, f"missing required argument(s) for {tool}: {', '.join(missing)}")

    for name, value in given.items():
        if (tool, name) in _ANY_VALUE:
            continue
        spec = properties[name]
        _check_type(tool, name, spec, value)
        limit = max_key_length if name in ("key", "keys") else max_name_length
        if spec["type"] == "string":
            _check_name(tool, name, value, limit)
        elif spec["type"] == "array":
            for item in value:
                _check_name(tool, name, item, limit)
    return given
