"""The ``syntha-redis`` command: one module per command group.

    main.py      the parser, ``main()``, and the snapshot, limits and scripts commands
    mesh.py      get, push, list, stats, watch, health (one user's mesh)
    acl.py       acl render|apply (per-tenant Redis ACL rules)
    mcp.py       mcp (one agent's tools as an MCP server)

Only this package parses command lines; the modules it calls take values.
"""

from syntha_redis.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
