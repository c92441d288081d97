"""examples/pitfalls.py: the seed's pitfalls and their fixes, runnable."""

from __future__ import annotations

from tests.examples.conftest import RunExample, assert_ran


def test_least_privilege_isolation_and_prompts(run_example: RunExample) -> None:
    assert_ran(run_example("pitfalls.py"),
               "admin tools: 7 | readonly push: False",
               "same user, other handle sees: value",
               "prompt mentions data: True")
