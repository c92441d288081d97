"""Fixtures of the MCP tests: a loopback URL where nothing listens."""

from __future__ import annotations

import pytest

from tests.support.servers import free_port


@pytest.fixture
def dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"
