"""Syntha's own tests, run unchanged through the import swap
(``tests/compat/upstream_sweep.py``): every failure is a documented deviation."""

from __future__ import annotations

from tests.compat.upstream_sweep import DEVIATIONS, sweep


def test_every_failure_of_syntha_s_portable_tests_is_a_documented_deviation(
    pg_base: str,
) -> None:
    # The sdist of syntha 0.2.7 (fetched once), or SYNTHA_UPSTREAM_SOURCE (a checkout).
    result = sweep(pg_dsn=pg_base)
    assert result.ran >= 50, result.missing_files
    assert "schema" in result.postgres  # Syntha's Postgres tests ran, on our snapshot
    assert result.unexpected == [], {t: result.messages[t] for t in result.unexpected}
    # and no deviation is listed that no longer fails (fixed: drop it from the list
    # and from MIGRATING.md)
    files_run = {test_id.split("::")[0] for test_id in result.outcomes}
    listed = {t for t in DEVIATIONS if t.split("::")[0] in files_run}
    assert set(result.failures) == listed
