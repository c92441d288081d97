"""examples/event_driven_polling.py: the seed's polling agent reacts to its topic."""

from __future__ import annotations

from tests.examples.conftest import RunExample, assert_ran


def test_the_polling_agent_processes_each_alert(run_example: RunExample) -> None:
    assert_ran(run_example("event_driven_polling.py"),
               "Processing urgent item: urgent_outage",
               "Processing task: task_followup")
