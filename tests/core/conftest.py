"""The core behavioural suite also runs on a loopback Redis Cluster."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["fakeredis", "redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
