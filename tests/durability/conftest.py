"""Fixtures of the durability tests: private redis-servers, a Postgres schema each."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    return f"d{uuid.uuid4().hex[:10]}"
