"""A pytest plugin that runs Syntha's own tests against syntha_redis.

Loaded with ``-p tests.compat.syntha_shim`` before Syntha's conftest is
imported, it makes ``import syntha`` (and ``syntha.context``, ``syntha.tools``,
...) resolve to the syntha_redis modules of the same name: the import swap a
Syntha user makes. Each test then runs in a fresh key prefix on the embedded
fakeredis (or on ``SYNTHA_REDIS_URL`` if set), as a fresh Syntha process would
start with an empty mesh; nothing else about the tests is changed.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Iterator

import pytest

import syntha_redis

# Syntha's modules, each replaced by syntha_redis's module of the same name.
MODULES = (
    "context",
    "tools",
    "tool_factory",
    "framework_adapters",
    "prompts",
    "exceptions",
    "logging",
    "persistence",
    "reports",
)


def install() -> None:
    """Point ``syntha`` and its submodules at syntha_redis's."""
    sys.modules["syntha"] = syntha_redis
    for name in MODULES:
        sys.modules[f"syntha.{name}"] = importlib.import_module(f"syntha_redis.{name}")


install()


@pytest.fixture(autouse=True)
def _fresh_mesh_per_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty mesh: its own key prefix, removed afterwards."""
    prefix = f"up{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("SYNTHA_KEY_PREFIX", prefix)
    yield
    _delete_prefix(os.environ.get("SYNTHA_REDIS_URL") or None, prefix)


def _delete_prefix(url: str | None, prefix: str) -> None:
    from syntha_redis.core.config import Settings
    from syntha_redis.core.connection import get_client

    client = get_client(Settings.model_validate({"redis_url": url}))
    # the prefix is generated above (safe characters), never user input
    names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if names:
        client.delete(*names)
