"""``syntha-redis mcp``: one agent's tools as an MCP server (``syntha_redis.ops.mcp_server``)."""

from __future__ import annotations

import argparse
from typing import Any

from syntha_redis.agents.roles import PREDEFINED_ROLES
from syntha_redis.core.config import Settings
from syntha_redis.ops import mcp_server

__all__ = ["mcp_commands"]


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(redis_url=args.redis_url, key_prefix=args.key_prefix)
    mcp_server.run(settings, args.user, args.agent, args.role, args.transport, args.host,
                   args.port)
    return 0


def mcp_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """``syntha-redis mcp``."""
    mcp = commands.add_parser("mcp", parents=[common],
                              help="serve one agent's Syntha tools over MCP (stdio or HTTP)")
    mcp.add_argument("--user", required=True, help="the end user whose mesh this is")
    mcp.add_argument("--agent", required=True, help="the agent's name in that mesh")
    mcp.add_argument("--role", default="contributor", choices=sorted(PREDEFINED_ROLES),
                     help="which tools it gets (default contributor; admin = all seven)")
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                     help="stdio (default: the client launches the server) or http")
    mcp.add_argument("--port", type=int, default=8080, help="with --transport http")
    mcp.add_argument("--host", default="127.0.0.1",
                     help="with --transport http; default loopback only")
    mcp.set_defaults(handler=_run)
