"""Running an example as a person would: its own process, configured by environment.

Each example runs on the embedded default and on the machine's Redis, under a key
prefix of its test, with the machine's Postgres (a schema of the test) where it
uses one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import backend_url, delete_prefix

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

RunExample = Callable[..., subprocess.CompletedProcess[str]]


def example_env(url: str | None, prefix: str, pg_base: str, pg_schema: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHA_", "DB_"))}
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
    return env


@pytest.fixture(params=["fakeredis", "redis"])
def example_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run_example(example_backend: str, pg_base: str, pg_schema: str) -> Iterator[RunExample]:
    """``run_example("x.py", without=("DB_HOST",))``: the finished process. Every run of
    one test shares its key prefix (and so its Redis keys) and its Postgres schema."""
    url = backend_url(example_backend)
    prefix = f"t{uuid.uuid4().hex[:12]}"

    def run(name: str, *args: str, without: tuple[str, ...] = (),
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = example_env(url, prefix, pg_base, pg_schema)
        for variable in without:
            env.pop(variable, None)
        return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env,
                              capture_output=True, text=True, timeout=timeout)

    yield run
    delete_prefix(url, prefix)


def assert_ran(done: subprocess.CompletedProcess[str], *lines: str) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    for line in lines:
        assert line in done.stdout, done.stdout
