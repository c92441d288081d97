"""``AsyncToolHandler``: ``await handler.handle_tool_call(name, **kwargs)``.

It reuses ``ToolHandler`` whole (access control, argument validation, result
shaping), so both give the same result dicts. The tool bodies in
``tool_calls.py`` call a sync mesh, so for now a call runs in a worker thread
on a sync ``ContextMesh`` over the same settings and user, and never blocks
the event loop; once the tool bodies are written as ``MeshOperations``
generators this class will drive them through ``AsyncStore`` instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.context import ContextMesh
from syntha_redis.tool_handler import ToolHandler

__all__ = ["AsyncToolHandler"]


class AsyncToolHandler:
    """The seven Syntha tools for one agent of an ``AsyncContextMesh``.

    Every other ``ToolHandler`` method (roles, allowed tools, schemas,
    framework getters) is available unchanged and is not a coroutine.
    """

    def __init__(
        self,
        context_mesh: AsyncContextMesh,
        agent_name: str | None = None,
        allowed_tools: list[str] | None = None,
        denied_tools: list[str] | None = None,
        role_based_access: dict[str, list[str]] | None = None,
    ) -> None:
        self.context_mesh = context_mesh
        twin = ContextMesh(
            user_id=context_mesh.user_id, settings=context_mesh.settings, auto_cleanup=False
        )
        twin.db_backend = context_mesh.db_backend  # writes reach the same snapshot
        self.sync_handler = ToolHandler(
            twin, agent_name, allowed_tools, denied_tools, role_based_access
        )

    async def handle_tool_call(self, tool_name: str, /, **kwargs: Any) -> dict[str, Any]:
        """Run one tool call from a model; returns a result dict and never raises."""
        return await asyncio.to_thread(self.sync_handler.handle_tool_call, tool_name, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sync_handler, name)
