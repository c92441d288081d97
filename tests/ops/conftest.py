"""Fixtures for the operations tests: a private Redis server and a dead port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import RedisProcess, free_port


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    """A fresh redis-server of this test only (empty script cache, 64 MB maxmemory)."""
    server = RedisProcess(extra=("--maxmemory", "64mb")).start()
    yield server
    server.stop()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"
