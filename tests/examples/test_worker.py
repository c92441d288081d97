"""examples/worker.py: the worker that compose and Kubernetes run, with its own counters."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from syntha_redis import ContextMesh
from tests.conftest import delete_prefix
from tests.examples.conftest import EXAMPLES, RunExample, assert_ran, example_env
from tests.support.servers import free_port


def test_it_stops_after_the_rounds_asked(run_example: RunExample) -> None:
    done = run_example("worker.py", "--port", "0", "--host", "127.0.0.1", "--interval", "0",
                       "--iterations", "3")
    assert_ran(done, "stopped after 3 rounds")


@pytest.fixture
def prefix(machine_url: str) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(machine_url, prefix)


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.read().decode()


def test_it_serves_probes_and_its_own_counters_until_terminated(
    machine_url: str, prefix: str, pg_base: str, pg_schema: str
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "worker.py"), "--port", str(port), "--host",
         "127.0.0.1", "--interval", "0.01"],
        env=example_env(machine_url, prefix, pg_base, pg_schema), stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert f"serving http://127.0.0.1:{port}" in proc.stdout.readline()
        ready, body = get(f"http://127.0.0.1:{port}/ready")
        assert ready == 200 and json.loads(body)["ready"] is True
        wanted = 'syntha_redis_operations_total{operation="push",outcome="ok"}'
        deadline = time.monotonic() + 10
        while True:  # the first round may still be on its way
            _, metrics = get(f"http://127.0.0.1:{port}/metrics")
            if wanted in metrics or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert "stopped after" in proc.stdout.read()
    assert 'syntha_redis_operations_total{operation="push",outcome="ok"}' in metrics
    assert "syntha_redis_mesh_" not in metrics  # mesh-wide gauges are serve's job
    mesh = ContextMesh(user_id="example-worker", redis_url=machine_url, key_prefix=prefix,
                       auto_cleanup=False)
    assert any(k.startswith("finding:") for k in mesh.get_keys_for_agent("Worker"))
    mesh.close()
