"""Fixtures for the agent-facing layer: handlers on the shared ``mesh`` fixture."""

from __future__ import annotations

from typing import Any

import pytest

from syntha_redis import ContextMesh
from syntha_redis.tools import ToolHandler

AGENTS = ("Alice", "Bob", "Carol")


@pytest.fixture
def alice(mesh: ContextMesh) -> ToolHandler:
    return ToolHandler(mesh, "Alice")


@pytest.fixture
def bob(mesh: ContextMesh) -> ToolHandler:
    return ToolHandler(mesh, "Bob")


def mesh_state(mesh: ContextMesh) -> dict[str, Any]:
    """Everything a tool could change, as plain data: compare before and after a call.

    The user's version counter moves on every write, so an unchanged
    ``stats["version"]`` means nothing at all was written.
    """
    return {
        "stats": mesh.get_stats(),
        "items": {agent: mesh.get_visible_items(agent) for agent in AGENTS},
        "topics": {t: mesh.get_subscribers_for_topic(t) for t in mesh.get_all_topics()},
        "subscriptions": {agent: mesh.get_topics_for_agent(agent) for agent in AGENTS},
        "permissions": {agent: mesh.get_agent_post_permissions(agent) for agent in AGENTS},
    }
