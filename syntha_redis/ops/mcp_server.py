"""``syntha-redis mcp``: one agent of one user's mesh, as an MCP stdio server.

Any MCP-capable agent runtime can join a mesh by launching::

    syntha-redis mcp --user alice --agent researcher --role contributor \\
        --redis-url redis://...

or reach a long-running server over HTTP (MCP's streamable HTTP transport at
``/mcp``, plus ``GET /health`` for probes)::

    syntha-redis mcp --user alice --agent researcher --transport http --port 8080

Over HTTP, whoever reaches the port acts as that agent of that user: publish
it only where the agent runtime alone can reach it (loopback, a private
network, a sidecar).

The user and the agent are fixed by the command line. The tools take neither
(``ToolHandler`` acts as its ``agent_name`` whatever the arguments say), so a
model can never read another user's context or act as another agent. The
tools listed are those of the role (``contributor`` by default: everything
but ``delete_topic``; ``admin`` has all seven).

Each tool result is the handler's result dict as JSON text. A failed call
(bad arguments, access denied, Redis down) is a result with
``"success": false`` and ``isError`` set, never a protocol error, so the
model sees the error and its suggestion. Calls run on the
``AsyncToolHandler`` of an ``AsyncContextMesh``, on the server's own event
loop: no thread per call. The server reports the installed package's version.

Needs the ``mcp`` extra (``pip install 'syntha_redis[mcp]'``); importing this
module does not, so the CLI works without it.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.core import keys
from syntha_redis.core.config import Settings
from syntha_redis.core.connection import describe_url
from syntha_redis.exceptions import SynthaConfigurationError
from syntha_redis.ops.http import describe_listener, listen_error

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

__all__ = ["build_handler", "build_server", "check_access", "run", "serve", "serve_http",
           "server_version"]

log = logging.getLogger("syntha_redis.mcp")

SERVER_NAME = "syntha-redis"


def server_version() -> str:
    """The installed syntha_redis version, as the MCP handshake reports it."""
    try:
        return metadata.version("syntha_redis")
    except metadata.PackageNotFoundError:  # run from a source tree, never installed
        from syntha_redis import __version__

        return __version__


def build_handler(
    settings: Settings, user_id: str, agent_name: str, role: str = "contributor"
) -> AsyncToolHandler:
    """The async tool handler of ``agent_name`` in ``user_id``'s mesh, with ``role``.

    Nothing is sent to Redis yet: ``serve`` pings it first, on its own loop.
    """
    if settings.redis_url is None:
        # an MCP server is its own process: an in-process mesh would share nothing
        raise SynthaConfigurationError(
            "the MCP server needs a shared Redis",
            config_key="redis_url",
            suggestions=["Pass --redis-url redis://... or set SYNTHA_REDIS_URL"],
        )
    keys.validate_identifier(agent_name, "agent_name", settings.max_name_length)
    mesh = AsyncContextMesh(user_id=user_id, settings=settings)
    handler = AsyncToolHandler(mesh, agent_name=agent_name)
    handler.set_agent_role(role)
    return handler


def _private_terms(settings: Settings) -> list[str]:
    """What the model must not read in a result: where Redis is and as whom (the
    address as host:port, never a bare host name such as "redis", which is in
    ordinary messages too)."""
    if settings.redis_url is None:
        return []
    parts = urlsplit(settings.redis_url)
    user = unquote(parts.username or "")
    where = parts.netloc.rsplit("@", 1)[-1]
    return [describe_url(settings.redis_url), where,
            *([user] if user and user != "default" else [])]


async def _call(handler: AsyncToolHandler, name: str,
                arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        result = await handler.handle_tool_call(name, **arguments)
    except Exception as e:
        # The handler turns every expected failure into a result; anything else
        # must still reach the model as a failed call, not end the session.
        log.exception("tool %s failed", name)
        result = {"success": False, "error": f"internal error: {e}",
                  "suggestion": "Retry later; if it persists, report it to the operator"}
    told = f"{result.get('error', '')} {result.get('suggestion', '')}"
    if result.get("success") is False and any(
            term in told for term in _private_terms(handler.context_mesh.settings)):
        # a server-side failure (Redis down, an ACL refusal): the operator's to fix,
        # and its text names the server and the Redis user; the log keeps it
        log.warning("tool %s failed: %s", name, told)
        result = {**result, "error": "the context store refused or could not serve this call",
                  "suggestion": "Retry later; if it persists, tell the operator (the details "
                                "are in the MCP server's log)"}
    return result


def build_server(handler: AsyncToolHandler) -> Server[Any]:
    """An MCP server (low-level API) exposing ``handler``'s tools."""
    import mcp.types as types
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=s["name"], description=s["description"],
                       input_schema=s["parameters"])
            for s in handler.get_schemas()
        ])

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        result = await _call(handler, params.name, dict(params.arguments or {}))
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(result, default=str))],
            is_error=result.get("success") is False,
        )

    return Server(
        SERVER_NAME,
        version=server_version(),
        instructions=(
            f"You are agent {handler.agent_name!r}. These tools share context with the "
            "other agents working for the same user; your identity is set for you."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def check_access(handler: AsyncToolHandler) -> None:
    """Fail at launch, not at the model's first call: Redis must answer, and these
    credentials must reach this user's keys (another tenant's ACL user is refused)."""
    await handler.context_mesh.ping()
    await handler.context_mesh.get_keys_for_agent(handler.agent_name or "")


async def serve(handler: AsyncToolHandler) -> None:
    """Serve ``handler``'s tools on stdin/stdout until the client hangs up."""
    from mcp.server.stdio import stdio_server

    mesh = handler.context_mesh
    try:
        await check_access(handler)
        server = build_server(handler)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await mesh.close()


async def serve_http(handler: AsyncToolHandler, host: str, port: int) -> None:
    """Serve ``handler``'s tools over streamable HTTP at ``/mcp`` until SIGTERM / Ctrl-C;
    ``GET /health`` answers while the process does."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    mesh = handler.context_mesh
    try:
        # bound before anything is announced: a busy port is a clear error, not a
        # "serving" line followed by uvicorn's exit
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.create_server((host, port), family=family)
        except (OSError, OverflowError) as e:
            raise (listen_error(e, host, port) or e) from None
        with listener:
            await check_access(handler)
            app = build_server(handler).streamable_http_app(
                host=host, custom_starlette_routes=[Route("/health", health)])
            where = describe_listener(host, listener.getsockname()[1], "/mcp")
            print(f"serving MCP on {where}", file=sys.stderr, flush=True)
            config = uvicorn.Config(app, log_level="warning")
            await uvicorn.Server(config).serve(sockets=[listener])
    finally:
        await mesh.close()


def run(settings: Settings, user_id: str, agent_name: str, role: str = "contributor",
        transport: str = "stdio", host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve one agent's tools until the client hangs up (stdio) or the process
    is stopped (http); ``syntha-redis mcp`` parses its command line into this."""
    try:
        import anyio
        import mcp  # noqa: F401
    except ImportError:
        raise SynthaConfigurationError(
            "the MCP server needs the 'mcp' extra",
            suggestions=["pip install 'syntha_redis[mcp]'"],
        ) from None
    # stdout carries the protocol: logs go to stderr
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    handler = build_handler(settings, user_id, agent_name, role)
    if transport == "http":
        anyio.run(serve_http, handler, host, port)
    else:
        anyio.run(serve, handler)
