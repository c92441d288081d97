"""The seed's examples run unchanged but for the import, on the embedded default
and on real Redis (and, where the seed uses it, on the machine's Postgres)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import backend_url, delete_prefix

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "production_manager.py": [
        "push as contributor: True | push as viewer: False",
        "stored in Postgres: ['deal_update']",
        "user context sees: closed",
    ],
    "microservices.py": ["report: {'deals': 2, 'total': 2000}", "sales sees the report: None",
                         "stored durably: ['deal_7', 'deal_8', 'monthly_report']"],
    "event_driven_polling.py": [
        "Processing urgent item: urgent_outage",
        "Processing task: task_followup",
    ],
    "monitored_agent.py": [
        "push: True | read: {'status': 'green'}",
        "context health: healthy",
        "database health: no_persistence",
    ],
    "pitfalls.py": [
        "admin tools: 7 | readonly push: False",
        "same user, other handle sees: value",
        "prompt mentions data: True",
    ],
}


@pytest.mark.parametrize("example", sorted(EXPECTED))
@pytest.mark.parametrize("backend", ["fakeredis", "redis"])
def test_seed_example_runs(example: str, backend: str, pg_base: str, pg_schema: str) -> None:
    url = backend_url(backend)
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHA_")}
    env.update(
        PYTHONPATH=str(EXAMPLES.parent),
        SYNTHA_KEY_PREFIX=prefix,
        SYNTHA_DB_URL=pg_base,
        PGOPTIONS=f"-c search_path={pg_schema}",
        DB_HOST="127.0.0.1", DB_PORT="5432", DB_NAME="test",
        DB_USER=os.environ.get("USER", "root"), DB_PASSWORD="",
    )
    if url is not None:
        env["SYNTHA_REDIS_URL"] = url
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / example)], env=env, capture_output=True,
            text=True, timeout=120,
        )
    finally:
        delete_prefix(url, prefix)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED[example]:
        assert line in done.stdout, done.stdout
