"""examples/monitored_agent.py: tool calls timed and logged, and a health checker."""

from __future__ import annotations

from tests.examples.conftest import RunExample, assert_ran


def test_calls_succeed_and_health_is_reported(run_example: RunExample) -> None:
    assert_ran(run_example("monitored_agent.py"),
               "push: True | read: {'status': 'green'}",
               "context health: healthy",
               "database health: no_persistence")
