"""examples/event_driven_polling.py: the seed's polling agent reacts to its topic."""

from __future__ import annotations

from tests.examples.conftest import RunExample, assert_ran


def test_the_polling_agent_processes_each_alert_once_per_run(run_example: RunExample) -> None:
    lines = ("Processing urgent item: urgent_outage", "Processing task: task_followup")
    first = run_example("event_driven_polling.py")
    assert_ran(first, *lines)
    # run again on the same mesh: the first run's items are not processed again
    second = run_example("event_driven_polling.py")
    assert_ran(second, *lines)
    for done in (first, second):
        assert [done.stdout.count(line) for line in lines] == [1, 1], done.stdout
