"""Old module paths keep importing: ``syntha_redis.store`` is ``syntha_redis.core.store``.

Before the package had folders every module sat at its root. Code that
imports an old path (``from syntha_redis.store import Store``) gets the very
module that now lives in its folder, not a copy: one finder on
``sys.meta_path`` answers only for the names in ``MOVED`` and only when no
file of that name exists. Syntha's own module names (``context``, ``tools``,
``tool_factory``, ``framework_adapters``, ``prompts``, ``exceptions``,
``logging``, ``persistence``, ``reports``) are real modules at the root, so type
checkers see them too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED = {
    f"syntha_redis.{old}": f"syntha_redis.{new}"
    for old, new in {
        "keys": "core.keys",
        "codec": "core.codec",
        "config": "core.config",
        "connection": "core.connection",
        "calls": "core.calls",
        "scripts": "core.scripts",
        "store": "core.store",
        "metrics": "core.metrics",
        "models": "core.models",
        "limits": "core.limits",
        "registry": "core.registry",
        "operations": "core.operations",
        "topic_operations": "core.topic_operations",
        "batches": "core.batches",
        "health": "core.health",
        "events": "live.events",
        "wakeups": "live.wakeups",
        "sweeper": "live.sweeper",
        "tool_handler": "agents.handler",
        "tool_calls": "agents.calls",
        "tool_schemas": "agents.schemas",
        "roles": "agents.roles",
        "fleet_metrics": "ops.fleet_metrics",
        "http": "ops.http",
        "acl": "ops.acl",
        "mcp_server": "ops.mcp_server",
        "cli_mesh": "cli.mesh",
    }.items()
}


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module it moved to."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: importing the target ran it."""


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        moved = MOVED.get(fullname)
        if moved is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(moved))


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once), after the ordinary finders."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
