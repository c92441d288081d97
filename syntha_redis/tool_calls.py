"""What each agent tool does, and the single path every tool call takes.

:func:`run_tool` validates the arguments against the tool's schema, runs the
tool and turns every failure into Syntha's flat result: ``success: False``,
an ``error`` naming the problem, a ``suggestion`` the model can act on, and
the tool's own failure keys. It never raises: a model's bad call must not
crash the agent loop, and a failed call writes nothing (validation happens
before the first mesh call, and each mesh write is one atomic script).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from syntha_redis.exceptions import (
    SynthaConflictError,
    SynthaError,
    SynthaPermissionError,
    SynthaToolError,
)
from syntha_redis.logging import get_security_logger
from syntha_redis.tool_schemas import describe_parameters, validate_arguments

if TYPE_CHECKING:
    from syntha_redis.context import ContextMesh

__all__ = ["run_tool", "DEFAULT_TTL_HOURS"]

DEFAULT_TTL_HOURS = 24.0
COMMON_TOPIC_PATTERNS = ["sales", "marketing", "support", "product", "analytics", "customer_data"]

log = logging.getLogger("syntha_redis.tools")
security = get_security_logger("tools")

Args = dict[str, Any]
Result = dict[str, Any]


def _get_context(mesh: ContextMesh, agent: str, args: Args) -> Result:
    keys: list[str] | None = args.get("keys")
    if keys:
        found = [mesh.get_item(key, agent_name=agent) for key in keys]
        items = [item for item in found if item is not None]
    else:
        items = mesh.get_visible_items(agent)
    context = {item.key: item.value for item in items}
    return {
        "success": True,
        "context": context,
        "versions": {item.key: item.version for item in items},
        "agent_name": agent,
        "keys_requested": keys or list(context),
        "keys_found": list(context),
        "message": f"Retrieved {len(context)} context items",
    }


def _parse_value(value: Any) -> Any:
    """A string holding JSON becomes that JSON value; anything else is kept as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _push_context(mesh: ContextMesh, agent: str, args: Args) -> Result:
    key: str = args["key"]
    value = _parse_value(args["value"])
    topics: list[str] | None = args.get("topics")
    subscribers: list[str] | None = args.get("subscribers")
    ttl_hours: float = args.get("ttl_hours", DEFAULT_TTL_HOURS)
    version = mesh.push(
        key,
        value,
        subscribers=subscribers,
        topics=topics,
        ttl=ttl_hours * 3600 if ttl_hours > 0 else None,
        agent_name=agent,
        expected_version=args.get("expected_version"),
    )
    routes = []
    if topics:
        routes.append(f"topics: {', '.join(topics)}")
    if subscribers:
        routes.append(f"subscribers: {', '.join(subscribers)}")
    audience = " and ".join(routes) or "all agents (no topics or subscribers given)"
    return {
        "success": True,
        "message": f"Context '{key}' shared with {audience}",
        "key": key,
        "value": value,
        "topics": topics,
        "subscribers": subscribers,
        "ttl_hours": ttl_hours,
        "sender_agent": agent,
        "version": version,
    }


def _list_context(mesh: ContextMesh, agent: str, args: Args) -> Result:
    keys = mesh.get_keys_for_agent(agent)
    return {
        "success": True,
        "keys_by_topic": mesh.get_available_keys_by_topic(agent),
        "all_accessible_keys": keys,
        "topics_subscribed": mesh.get_topics_for_agent(agent),
        "message": "Use these keys with get_context tool. "
        "Keys are organized by topics you're subscribed to.",
        "agent_name": agent,
        "total_keys": len(keys),
    }


def _subscribe_to_topics(mesh: ContextMesh, agent: str, args: Args) -> Result:
    topics: list[str] = args["topics"]
    mesh.register_agent_topics(agent, topics)
    return {
        "success": True,
        "agent": agent,
        "topics": topics,
        "message": f"Successfully registered for topics: {', '.join(topics) or 'none'}. "
        "You'll now receive context shared to these topics.",
    }


def _unsubscribe_from_topics(mesh: ContextMesh, agent: str, args: Args) -> Result:
    topics: list[str] = args["topics"]
    current = mesh.get_topics_for_agent(agent)
    leaving = [t for t in topics if t in current]
    not_subscribed = [t for t in topics if t not in current]
    if not leaving:
        return {
            "success": True,
            "agent": agent,
            "topics_unsubscribed": [],
            "topics_not_subscribed": not_subscribed,
            "remaining_topics": current,
            "message": f"You weren't subscribed to any of these topics: {', '.join(topics)}",
        }
    mesh.unsubscribe_from_topics(agent, leaving)
    remaining = mesh.get_topics_for_agent(agent)
    return {
        "success": True,
        "agent": agent,
        "topics_unsubscribed": leaving,
        "topics_not_subscribed": not_subscribed,
        "remaining_topics": remaining,
        "message": f"Successfully unsubscribed from: {', '.join(leaving)}. "
        f"Remaining subscriptions: {', '.join(remaining) or 'none'}",
    }


def _discover_topics(mesh: ContextMesh, agent: str, args: Args) -> Result:
    with_names: bool = args.get("include_subscriber_names", False)
    topics: dict[str, dict[str, Any]] = {}
    for topic in mesh.get_all_topics():
        subscribers = mesh.get_subscribers_for_topic(topic)
        info: dict[str, Any] = {
            "subscriber_count": len(subscribers),
            "is_active": bool(subscribers),
        }
        if with_names:
            info["subscribers"] = subscribers
        topics[topic] = info
    ranked = dict(sorted(topics.items(), key=lambda kv: (-kv[1]["subscriber_count"], kv[0])))
    popular = [t for t, info in ranked.items() if info["subscriber_count"] >= 2]
    return {
        "success": True,
        "topics": ranked,
        "total_topics": len(ranked),
        "popular_topics": popular,
        "suggestions": {"for_broad_reach": popular[:3], "common_patterns": COMMON_TOPIC_PATTERNS},
        "message": f"Found {len(ranked)} topics. "
        f"Popular topics (2+ subscribers): {', '.join(popular[:5]) or 'none'}",
    }


def _delete_topic(mesh: ContextMesh, agent: str | None, args: Args) -> Result:
    topic: str = args["topic"]
    if not args["confirm"]:
        raise SynthaToolError(
            "Deletion not confirmed. Set confirm=true to proceed.",
            tool="delete_topic",
            suggestions=[f"Call delete_topic again with topic={topic!r} and confirm=true"],
        )
    # A topic exists while someone follows it (as in Syntha); checking first
    # means a call on a missing topic writes nothing.
    subscribers = mesh.get_subscribers_for_topic(topic)
    if not subscribers:
        available = mesh.get_all_topics()
        raise SynthaToolError(
            f"Topic '{topic}' does not exist",
            tool="delete_topic",
            context={"available_topics": available},
            suggestions=[f"Existing topics: {', '.join(available) or 'none'}"],
        )
    deleted = mesh.delete_topic_report(topic).items_deleted
    security.log_security_event(
        "topic_deleted",
        "MEDIUM",
        f"topic {topic!r} deleted ({deleted} items, {len(subscribers)} subscribers)",
        agent_name=agent,
        topic=topic,
        items_deleted=deleted,
    )
    return {
        "success": True,
        "topic": topic,
        "subscribers_affected": subscribers,
        "context_items_deleted": deleted,
        "message": f"Successfully deleted topic '{topic}'. Removed {len(subscribers)} "
        f"subscribers and {deleted} context items.",
    }


@dataclass(frozen=True)
class _Tool:
    run: Callable[[ContextMesh, Any, Args], Result]
    # Syntha's failure keys for this tool, filled from the call's raw arguments.
    failure_keys: Callable[[str | None, Args], Result]
    # delete_topic is an administrative operation that needs no agent (as in Syntha).
    needs_agent: bool = True


_TOOLS: dict[str, _Tool] = {
    "get_context": _Tool(
        _get_context,
        lambda agent, a: {"agent_name": agent, "keys_requested": a.get("keys"), "context": {}},
    ),
    "push_context": _Tool(
        _push_context,
        lambda agent, a: {
            "key": a.get("key"),
            "topics": a.get("topics"),
            "subscribers": a.get("subscribers"),
        },
    ),
    "list_context": _Tool(
        _list_context,
        lambda agent, a: {"agent_name": agent, "keys_by_topic": {}, "all_accessible_keys": []},
    ),
    "subscribe_to_topics": _Tool(
        _subscribe_to_topics, lambda agent, a: {"agent": agent, "topics": a.get("topics")}
    ),
    "discover_topics": _Tool(_discover_topics, lambda agent, a: {"topics": {}, "total_topics": 0}),
    "unsubscribe_from_topics": _Tool(
        _unsubscribe_from_topics, lambda agent, a: {"agent": agent, "topics": a.get("topics")}
    ),
    "delete_topic": _Tool(
        _delete_topic,
        lambda agent, a: {
            "topic": a.get("topic"),
            "message": f"Topic {a.get('topic')!r} was not deleted",
        },
        needs_agent=False,
    ),
}


def _error_details(error: SynthaError) -> Result:
    """Keys a model needs to recover from this kind of error."""
    if isinstance(error, SynthaConflictError):
        return {
            "expected_version": error.expected_version,
            "current_version": error.current_version,
            "current_value": error.current_value,
        }
    return {
        k: error.context[k] for k in ("allowed_topics", "available_topics") if k in error.context
    }


def _log_refusal(tool: str, agent: str | None, args: Args, error: SynthaError) -> None:
    if isinstance(error, SynthaPermissionError):
        security.log_security_event(
            "post_refused",
            "MEDIUM",
            error.message,
            agent_name=agent,
            tool=tool,
            topics=args.get("topics"),
            allowed_topics=error.context.get("allowed_topics"),
        )


def run_tool(mesh: ContextMesh, agent: str | None, tool: str, arguments: Args) -> Result:
    """Run ``tool`` (a known tool name) for ``agent``; always returns a result dict."""
    spec = _TOOLS[tool]
    try:
        args = validate_arguments(
            tool,
            arguments,
            max_key_length=mesh.settings.max_key_length,
            max_name_length=mesh.settings.max_name_length,
        )
        if spec.needs_agent and not agent:
            raise SynthaToolError(
                "Agent name not set",
                tool=tool,
                suggestions=["Create the ToolHandler with agent_name=... or call set_agent_name"],
            )
        return spec.run(mesh, agent, args)
    except SynthaError as e:
        _log_refusal(tool, agent, arguments, e)
        return {
            "success": False,
            "error": e.message,
            "suggestion": e.suggestion or f"Check the arguments: {describe_parameters(tool)}",
            **spec.failure_keys(agent, arguments),
            **_error_details(e),
        }
    except Exception as e:
        # A bug or an unmapped driver error: still a result, never an exception
        # into the agent loop; the traceback goes to the log for the operator.
        log.exception("tool %s failed unexpectedly", tool, extra={"agent_name": agent})
        return {
            "success": False,
            "error": f"Internal error in {tool}: {type(e).__name__}: {e}",
            "suggestion": "Retry the call; if it keeps failing, report it to the operator",
            **spec.failure_keys(agent, arguments),
        }
