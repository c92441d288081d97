"""examples/production_manager.py: the seed's production set-up, on Postgres."""

from __future__ import annotations

import time

from tests.examples.conftest import RunExample, assert_ran


def test_roles_are_enforced_and_the_push_reaches_postgres(run_example: RunExample) -> None:
    assert_ran(run_example("production_manager.py"),
               "push as contributor: True | push as viewer: False",
               "stored in Postgres: ['deal_update']",
               "user context sees: closed")


def test_without_database_settings_it_stops_at_once_naming_them(
    run_example: RunExample,
) -> None:
    started = time.monotonic()
    done = run_example("production_manager.py", without=("DB_USER", "DB_PASSWORD"))
    assert done.returncode == 1 and time.monotonic() - started < 10
    assert "missing: DB_USER, DB_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
