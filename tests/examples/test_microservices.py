"""examples/microservices.py: two services of one user share context through the mesh."""

from __future__ import annotations

from tests.examples.conftest import RunExample, assert_ran

LINES = ("report: {'deals': 2, 'total': 2000}", "sales sees the report: None",
         "stored durably: ['deal_7', 'deal_8', 'monthly_report']")


def test_analytics_reports_the_deals_sales_pushed(run_example: RunExample) -> None:
    assert_ran(run_example("microservices.py"), *LINES)


def test_it_is_not_disturbed_by_other_examples_on_the_same_redis(
    run_example: RunExample,
) -> None:
    # production_manager.py used to push a text 'deal_update' to the same user,
    # which the report then tried to sum: each example now has its own user
    assert_ran(run_example("production_manager.py"))
    assert_ran(run_example("pitfalls.py"))
    assert_ran(run_example("microservices.py"), *LINES)


def test_running_it_twice_gives_the_same_report(run_example: RunExample) -> None:
    assert_ran(run_example("microservices.py"), *LINES)
    assert_ran(run_example("microservices.py"), *LINES)
