"""Prometheus metrics: every operation counted and timed by outcome, only when enabled."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from syntha_redis import ContextMesh, SynthaConflictError, SynthaValidationError


def count(operation: str, outcome: str = "ok") -> float:
    labels = {"operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value("syntha_redis_operations_total", labels) or 0.0


def timed(operation: str, outcome: str = "ok") -> float:
    labels = {"operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value("syntha_redis_operation_duration_seconds_count",
                                     labels) or 0.0


def test_each_operation_is_counted_and_timed(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(metrics_enabled=True)
    pushes, gets, visible = count("push"), timed("get_value"), count("visible_values")
    mesh.push("a", 1)
    mesh.push("b", 2)
    mesh.get("a", "agent")
    mesh.get_all_for_agent("agent")
    assert count("push") == pushes + 2
    assert timed("get_value") == gets + 1
    assert count("visible_values") == visible + 1


def test_errors_are_counted_by_kind(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(metrics_enabled=True)
    conflicts, invalid = count("push", "conflict"), count("push", "validation")
    mesh.push("a", 1)
    with pytest.raises(SynthaConflictError):
        mesh.push("a", 2, expected_version=0)
    with pytest.raises(SynthaValidationError):
        mesh.push("   ", 1)
    assert count("push", "conflict") == conflicts + 1
    assert count("push", "validation") == invalid + 1


def test_unreachable_redis_is_a_connection_error(dead_url: str) -> None:
    mesh = ContextMesh(user_id="u", redis_url=dead_url, metrics_enabled=True,
                       auto_cleanup=False, retries=0)
    before = count("push", "connection")
    with pytest.raises(Exception):  # noqa: B017 (the kind is what the metric says)
        mesh.push("a", 1)
    assert count("push", "connection") == before + 1


def test_nothing_is_recorded_when_metrics_are_off(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory()
    before = count("push")
    mesh.push("a", 1)
    assert count("push") == before


def test_enabling_metrics_without_prometheus_client_is_a_configuration_error() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from syntha_redis import ContextMesh, SynthaConfigurationError\n"
        "try:\n"
        "    ContextMesh(user_id='u', metrics_enabled=True, auto_cleanup=False)\n"
        "except SynthaConfigurationError as e:\n"
        "    print(e.message, '|', e.suggestion)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "prometheus-client is not installed" in out
    assert "syntha_redis[metrics]" in out
