"""``AsyncToolHandler``: ``await handler.handle_tool_call(name, **kwargs)``.

It shares ``ToolHandler``'s access control and schemas (``BaseToolHandler``)
and runs the very same ``ToolCall`` operations (validation, result shaping,
error mapping, security logging), on the ``AsyncContextMesh``'s
``redis.asyncio`` client instead of a sync one, so both handlers give the same
result dicts and no call ever needs a thread.
"""

from __future__ import annotations

from typing import Any

from syntha_redis.agents.handler import BaseToolHandler
from syntha_redis.async_context import AsyncContextMesh

__all__ = ["AsyncToolHandler"]


class AsyncToolHandler(BaseToolHandler[AsyncContextMesh]):
    """The seven Syntha tools for one agent of an ``AsyncContextMesh``.

    Roles, allowed and denied tools and schemas work as on ``ToolHandler``
    and are not coroutines. Framework tool objects (LangChain, Agno, ...)
    call their handler synchronously, so they come from ``ToolHandler`` only.
    """

    async def handle_tool_call(self, tool_name: str, /, **kwargs: Any) -> dict[str, Any]:
        """Run one tool call from a model; returns a result dict and never raises."""
        refusal = self._refusal(tool_name)
        if refusal is not None:
            return refusal
        call = self._tool_call(tool_name, kwargs)
        try:
            result = await self.context_mesh.run(call.operation())
        except Exception as e:
            return call.failure(e)
        return result
