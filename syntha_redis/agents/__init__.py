"""Agents: the mesh as LLM tools.

    handler.py    ``ToolHandler``: one agent's access (roles, allow/deny lists)
    calls.py      ``ToolCall``: what each of the seven tools does, as an operation
    schemas.py    the tools' JSON schemas and argument validation
    roles.py      the predefined roles
    adapters.py   the tools in each framework's shape (Syntha's ``framework_adapters``)
    factory.py    ``SynthaToolFactory`` (Syntha's ``tool_factory``)

Handlers run tool calls through the mesh's public seam (``mesh.operations``,
``mesh.run``). Syntha's module names (``tools``, ``tool_factory``,
``framework_adapters``, ``prompts``) stay at the package root.
"""
