"""Predefined roles and restriction levels: which tools each may use.

Pure data and lookups, shared by :class:`~syntha_redis.tools.ToolHandler`
(``set_agent_role`` applies a role) and the handler factories in
:mod:`syntha_redis.tools`.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PREDEFINED_ROLES", "RESTRICTION_LEVELS", "get_role_info"]

_READ = ["get_context", "list_context", "discover_topics"]
_WRITE = [*_READ, "push_context", "subscribe_to_topics", "unsubscribe_from_topics"]

PREDEFINED_ROLES: dict[str, dict[str, Any]] = {
    "readonly": {
        "description": "Read-only access to context and discovery",
        "tools": list(_READ),
    },
    "contributor": {
        "description": "Can read, write, and manage topic subscriptions",
        "tools": list(_WRITE),
    },
    # Syntha defines moderator with the contributor's tools; kept for compatibility.
    "moderator": {
        "description": "Contributor permissions plus ability to manage others' subscriptions",
        "tools": list(_WRITE),
    },
    "admin": {
        "description": "Full access including destructive operations",
        "tools": [*_WRITE, "delete_topic"],
    },
}

# create_restricted_handler levels: (allowed tools or None for all, denied tools).
RESTRICTION_LEVELS: dict[str, tuple[list[str] | None, list[str]]] = {
    "safe": (None, ["delete_topic"]),
    "minimal": (["get_context", "push_context", "list_context"], []),
    "readonly": (list(_READ), []),
}


def get_role_info(role: str | None = None) -> dict[str, Any]:
    """All predefined roles, or one role's ``{description, tools}``; ValueError if unknown."""
    if role is None:
        return copy.deepcopy(PREDEFINED_ROLES)
    if role not in PREDEFINED_ROLES:
        raise ValueError(f"Unknown role '{role}'. Available roles: {list(PREDEFINED_ROLES)}")
    return copy.deepcopy(PREDEFINED_ROLES[role])
