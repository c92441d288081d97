"""Fixtures of the live-mesh suite: real servers for multi-process and fault tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.servers import MACHINE_REDIS_URL, RedisProcess


@pytest.fixture
def machine_url() -> str:
    """The machine's Redis: multi-process tests need a server all processes share."""
    from tests.conftest import backend_url

    url = backend_url("redis")
    assert url is not None
    return url


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    """A redis-server of this test alone: fault tests kill its clients freely."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisProcess().start()
    yield server
    server.stop()


__all__ = ["MACHINE_REDIS_URL"]
