"""HTTP probes over real requests on a loopback port: /health, /ready, /metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from syntha_redis import ContextMesh
from syntha_redis.core.config import Settings
from syntha_redis.ops.http import ProbeServer, start_http_server
from tests.support.servers import RedisProcess


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ProbeServer] = []

    def start(settings: Settings) -> ProbeServer:
        servers.append(start_http_server(settings, port=0, host="127.0.0.1"))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_health_answers_while_the_process_is_up(serve: Any, dead_url: str) -> None:
    server = serve(Settings(redis_url=dead_url))
    status, content_type, body = fetch(server.url + "/health")
    assert status == 200 and content_type == "application/json"
    assert json.loads(body) == {"status": "alive"}


def test_ready_when_redis_answers_and_scripts_load(
    serve: Any, private_redis: RedisProcess
) -> None:
    settings = Settings(redis_url=private_redis.url)
    mesh = ContextMesh(user_id="u", settings=settings, auto_cleanup=False)
    assert mesh.health().scripts_loaded is False
    status, _, body = fetch(serve(settings).url + "/ready")
    assert status == 200
    assert json.loads(body)["ready"] is True
    assert mesh.health().scripts_loaded is True


def test_not_ready_when_redis_is_down(serve: Any, dead_url: str) -> None:
    status, _, body = fetch(serve(Settings(redis_url=dead_url)).url + "/ready")
    report = json.loads(body)
    assert status == 503
    assert report["ready"] is False and report["status"] == "unhealthy"
    assert "cannot reach Redis" in report["error"] and report["suggestions"]


def test_ready_turns_503_when_redis_dies(serve: Any, private_redis: RedisProcess) -> None:
    server = serve(Settings(redis_url=private_redis.url, retries=0))
    assert fetch(server.url + "/ready")[0] == 200
    private_redis.kill()
    assert fetch(server.url + "/ready")[0] == 503


def test_metrics_are_prometheus_text(serve: Any, redis_url: str | None,
                                     key_prefix: str) -> None:
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix, metrics_enabled=True)
    ContextMesh(user_id="u", settings=settings, auto_cleanup=False).push("a", 1)
    status, content_type, body = fetch(serve(settings).url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    text = body.decode()
    assert '# TYPE syntha_redis_operations_total counter' in text
    assert 'syntha_redis_operations_total{operation="push",outcome="ok"}' in text
    assert 'syntha_redis_operation_duration_seconds_bucket{' in text


def test_unknown_path_is_404(serve: Any, dead_url: str) -> None:
    status, _, body = fetch(serve(Settings(redis_url=dead_url)).url + "/nope")
    assert status == 404 and "/ready" in json.loads(body)["paths"]
