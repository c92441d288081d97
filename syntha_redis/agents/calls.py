"""What each agent tool does, and how every tool call becomes a result.

A :class:`ToolCall` is one model call of one tool. Its ``operation`` is a
generator like those of ``syntha_redis.core.operations``: it validates the
arguments against the tool's schema, yields the mesh's Redis calls and
returns Syntha's flat result dict. ``ToolHandler`` runs it on the mesh's sync
``Store``, ``AsyncToolHandler`` on an ``AsyncStore``; both turn any exception
into :meth:`ToolCall.failure`: ``success: False``, an ``error`` naming the
problem, a ``suggestion`` the model can act on, and the tool's own failure
keys. A model's bad call must not crash the agent loop, and a failed call
writes nothing (validation happens before the first mesh call, and each mesh
write is one atomic script).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syntha_redis.agents.schemas import describe_parameters, validate_arguments
from syntha_redis.core.batches import BatchOperations
from syntha_redis.core.calls import Operation
from syntha_redis.core.codec import MAX_DEPTH, too_deep
from syntha_redis.core.operations import VisibleItems, check_ttl, group_by_topic
from syntha_redis.exceptions import (
    SynthaConflictError,
    SynthaError,
    SynthaPermissionError,
    SynthaToolError,
    SynthaValidationError,
)
from syntha_redis.logging import get_security_logger

__all__ = ["ToolCall", "DEFAULT_TTL_HOURS"]

DEFAULT_TTL_HOURS = 24.0
COMMON_TOPIC_PATTERNS = ["sales", "marketing", "support", "product", "analytics", "customer_data"]

log = logging.getLogger("syntha_redis.tools")
security = get_security_logger("tools")

Args = dict[str, Any]
Result = dict[str, Any]


def _get_context(call: ToolCall, args: Args) -> Operation[Result]:
    keys: list[str] | None = args.get("keys")
    if keys:
        # one script call for every key (up to settings.max_batch_items)
        found = yield from call.ops.get_many(keys, call.agent)
        items = VisibleItems(found.values(), len(found))
    else:
        _, items = yield from call.ops.visible_items(call.agent, warn=False)
    context = {item.key: item.value for item in items}
    return {
        "success": True,
        "context": context,
        "versions": {item.key: item.version for item in items},
        "agent_name": call.agent,
        "keys_requested": keys or list(context),
        "keys_found": list(context),
        "truncated": items.truncated,
        "total_visible": items.total_visible,
        "message": f"Retrieved {len(context)} context items" + _cut_note(items),
    }


def _cut_note(items: VisibleItems) -> str:
    if not items.truncated:
        return ""
    return (
        f" (the {len(items)} most recent of {items.total_visible} visible; "
        "ask for older ones by key)"
    )


def _parse_value(value: Any) -> Any:
    """A string holding JSON becomes that JSON value; anything else is kept as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
    except RecursionError:
        # json.loads recurses once per level: a hostile value must not crash the call
        raise SynthaValidationError(
            f"'value' is JSON nested more than {MAX_DEPTH} levels deep",
            field="value",
            suggestions=[f"Send a value nested at most {MAX_DEPTH} levels deep"],
        ) from None


def _check_depth(tool: str, arguments: Args) -> None:
    """Refuse arguments nested too deeply to quote in a message or return as JSON."""
    for name, value in arguments.items():
        if too_deep(value):
            raise SynthaValidationError(
                f"argument {name!r} of {tool} is nested more than {MAX_DEPTH} levels deep",
                field=str(name),
                suggestions=[f"Call {tool} with: {describe_parameters(tool)}"],
            )


def _text(message: str) -> str:
    """``message`` as valid Unicode: model input quoted in it may hold lone surrogates."""
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return message.encode("utf-8", "backslashreplace").decode("utf-8")
    return message


def _echo(value: Any) -> Any:
    """A model's argument as a failure result may quote it: unchanged when it is
    plain JSON, else a placeholder (deep nesting, lone surrogates, odd objects
    would break the JSON encoding of the result downstream)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return "<not shown: not plain JSON text>"
    return value


def _push_context(call: ToolCall, args: Args) -> Operation[Result]:
    key: str = args["key"]
    value = _parse_value(args["value"])
    topics: list[str] | None = args.get("topics")
    subscribers: list[str] | None = args.get("subscribers")
    ttl_hours: float = args.get("ttl_hours", DEFAULT_TTL_HOURS)
    ttl = check_ttl(ttl_hours, "ttl_hours", "hours")
    version = yield from call.ops.push(
        key,
        value,
        subscribers=subscribers,
        topics=topics,
        ttl=ttl,
        agent_name=call.agent,
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
        "sender_agent": call.agent,
        "version": version,
    }


def _list_context(call: ToolCall, args: Args) -> Operation[Result]:
    # one read, so the keys, their grouping and the topics agree with each other
    topics, items = yield from call.ops.visible_items(call.agent, with_values=False, warn=False)
    keys = [item.key for item in items]
    return {
        "success": True,
        "keys_by_topic": group_by_topic(topics, items),
        "all_accessible_keys": keys,
        "topics_subscribed": topics,
        "message": "Use these keys with get_context tool. "
        "Keys are organized by topics you're subscribed to." + _cut_note(items),
        "agent_name": call.agent,
        "total_keys": len(keys),
        "truncated": items.truncated,
        "total_visible": items.total_visible,
    }


def _subscribe_to_topics(call: ToolCall, args: Args) -> Operation[Result]:
    topics: list[str] = args["topics"]
    yield from call.ops.subscribe(call.agent, topics, replace=True)
    return {
        "success": True,
        "agent": call.agent,
        "topics": topics,
        "message": f"Successfully registered for topics: {', '.join(topics) or 'none'}. "
        "You'll now receive context shared to these topics.",
    }


def _unsubscribe_from_topics(call: ToolCall, args: Args) -> Operation[Result]:
    topics: list[str] = args["topics"]
    done = yield from call.ops.unsubscribe(call.agent, topics)  # one script call
    leaving = [t for t in topics if t in done.removed]
    not_subscribed = [t for t in topics if t not in done.removed]
    remaining = done.remaining
    if not leaving:
        return {
            "success": True,
            "agent": call.agent,
            "topics_unsubscribed": [],
            "topics_not_subscribed": not_subscribed,
            "remaining_topics": remaining,
            "message": f"You weren't subscribed to any of these topics: {', '.join(topics)}",
        }
    return {
        "success": True,
        "agent": call.agent,
        "topics_unsubscribed": leaving,
        "topics_not_subscribed": not_subscribed,
        "remaining_topics": remaining,
        "message": f"Successfully unsubscribed from: {', '.join(leaving)}. "
        f"Remaining subscriptions: {', '.join(remaining) or 'none'}",
    }


def _discover_topics(call: ToolCall, args: Args) -> Operation[Result]:
    with_names: bool = args.get("include_subscriber_names", False)
    topics: dict[str, dict[str, Any]] = {}
    audiences = yield from call.ops.topic_audiences()  # one script call for every topic
    for topic, subscribers in audiences.items():
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


def _delete_topic(call: ToolCall, args: Args) -> Operation[Result]:
    topic: str = args["topic"]
    if not args["confirm"]:
        raise SynthaToolError(
            "Deletion not confirmed. Set confirm=true to proceed.",
            tool="delete_topic",
            suggestions=[f"Call delete_topic again with topic={topic!r} and confirm=true"],
        )
    # A topic exists while someone follows it (as in Syntha); checking first
    # means a call on a missing topic writes nothing.
    subscribers = yield from call.ops.subscribers_for_topic(topic)
    if not subscribers:
        available = yield from call.ops.all_topics()
        raise SynthaToolError(
            f"Topic '{topic}' does not exist",
            tool="delete_topic",
            context={"available_topics": available},
            suggestions=[f"Existing topics: {', '.join(available) or 'none'}"],
        )
    deleted = (yield from call.ops.delete_topic(topic)).items_deleted
    security.log_security_event(
        "topic_deleted",
        "MEDIUM",
        f"topic {topic!r} deleted ({deleted} items, {len(subscribers)} subscribers)",
        agent_name=call.agent_name,
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
    run: Callable[[ToolCall, Args], Operation[Result]]
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
            # quoted through _echo: a hostile topic (a list nested 1,200 deep) has a
            # repr that overflows the stack
            "message": f"Topic {_echo(a.get('topic'))!r} was not deleted",
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


class ToolCall:
    """One call of ``tool`` (a known tool name) by ``agent_name`` on a user's mesh.

    Run ``operation()`` on a store; if that (or anything after it) raises,
    the call's result is ``failure(error)``.
    """

    def __init__(
        self, ops: BatchOperations, tool: str, agent_name: str | None, arguments: Args
    ) -> None:
        self.ops = ops
        self.tool = tool
        self.agent_name = agent_name
        self.arguments = arguments
        self._spec = _TOOLS[tool]

    @property
    def agent(self) -> str:
        """The agent's name, for tools that need one (they run only when it is set)."""
        return self.agent_name or ""

    def operation(self) -> Operation[Result]:
        """Validate the arguments, then run the tool; raises what ``failure`` reports."""
        settings = self.ops.settings
        _check_depth(self.tool, self.arguments)
        args = validate_arguments(
            self.tool,
            self.arguments,
            max_key_length=settings.max_key_length,
            max_name_length=settings.max_name_length,
        )
        if self._spec.needs_agent and not self.agent_name:
            raise SynthaToolError(
                "Agent name not set",
                tool=self.tool,
                suggestions=["Create the ToolHandler with agent_name=... or call set_agent_name"],
            )
        return (yield from self._spec.run(self, args))

    def failure(self, error: Exception) -> Result:
        """The result of a call that raised ``error``."""
        keys = {
            k: _echo(v) for k, v in self._spec.failure_keys(self.agent_name, self.arguments).items()
        }
        if isinstance(error, SynthaError):
            self._log_refusal(error)
            return {
                "success": False,
                "error": _text(error.message),
                "suggestion": _text(
                    error.suggestion or f"Check the arguments: {describe_parameters(self.tool)}"
                ),
                **keys,
                **_error_details(error),
            }
        # A bug or an unmapped driver error: still a result, never an exception
        # into the agent loop; the traceback goes to the log for the operator.
        log.error(
            "tool %s failed unexpectedly",
            self.tool,
            exc_info=error,
            extra={"agent_name": self.agent_name},
        )
        return {
            "success": False,
            "error": f"Internal error in {self.tool}: {type(error).__name__}: {error}",
            "suggestion": "Retry the call; if it keeps failing, report it to the operator",
            **keys,
        }

    def _log_refusal(self, error: SynthaError) -> None:
        if isinstance(error, SynthaPermissionError):
            security.log_security_event(
                "post_refused",
                "MEDIUM",
                error.message,
                agent_name=self.agent_name,
                tool=self.tool,
                topics=self.arguments.get("topics"),
                allowed_topics=error.context.get("allowed_topics"),
            )
