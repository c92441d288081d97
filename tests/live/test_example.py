"""examples/event_driven_agent.py runs: three agents, two processes, no polling."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import delete_prefix

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[2] / "examples" / "event_driven_agent.py"


def test_event_driven_example_reports_every_deal(machine_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "SYNTHA_REDIS_URL": machine_url, "SYNTHA_KEY_PREFIX": prefix}
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        delete_prefix(machine_url, prefix)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "manager: 1 deals, total 1200",
        "manager: 2 deals, total 2000",
        "manager: 3 deals, total 4500",
    ]
