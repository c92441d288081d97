"""Ops: running a deployment.

    http.py            ``/health``, ``/ready`` and ``/metrics`` from a daemon thread
    fleet_metrics.py   mesh-wide gauges read from Redis
    acl.py             per-tenant Redis ACL rules
    mcp_server.py      one agent's tools as an MCP server

The top layer with ``cli``: it uses the meshes, never the other way round.
"""
