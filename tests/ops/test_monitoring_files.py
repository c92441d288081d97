"""The Prometheus and Grafana files ask only for series the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from syntha_redis.ops.fleet_metrics import SERIES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROCESS_SERIES = {
    "syntha_redis_operations_total",
    "syntha_redis_operation_duration_seconds_bucket",
    "syntha_redis_malformed_data_total",
}
EXPORTED = {f"syntha_redis_mesh_{name}" for name in SERIES} | PROCESS_SERIES
NAME = re.compile(r"\bsyntha_redis_\w+")


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "syntha-redis.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [r["expr"] for group in rules["groups"] for r in group["rules"]]


def test_the_dashboard_queries_exported_series_only() -> None:
    used = {name for expr in dashboard_expressions() for name in NAME.findall(expr)}
    assert used and used <= EXPORTED
    # every mesh-wide gauge an operator needs is on it
    wanted = {"users", "items", "bytes", "stream_events", "snapshot_lag_seconds",
              "sweeper_backlog"}
    assert {f"syntha_redis_mesh_{n}" for n in wanted} <= used


def test_alerts_use_exported_series_only() -> None:
    used = {name for expr in alert_expressions() for name in NAME.findall(expr)}
    assert used and used <= EXPORTED


def test_scrape_configs_have_a_job_for_the_mesh_and_one_for_the_workers() -> None:
    for name in ("prometheus.yml", "kubernetes.yml"):
        config = yaml.safe_load((DEPLOY / "prometheus" / name).read_text())
        jobs = {job["job_name"] for job in config["scrape_configs"]}
        assert {"syntha-mesh", "syntha-workers"} <= jobs, name
        assert config["rule_files"] == ["alerts.yml"]
