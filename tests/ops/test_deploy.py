"""The deployment files say what the code understands: every command they run parses,
every SYNTHA_* variable they set is a setting, every service is health-checked.

``make deploy-check`` validates their syntax (hadolint, the compose specification,
the Kubernetes schemas); these tests check their meaning against the code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from syntha_redis.cli import build_parser
from syntha_redis.core.config import Settings
from syntha_redis.persistence import DATABASE_URL_VARIABLES
from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
MANIFESTS = [doc for path in sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
             for doc in yaml.safe_load_all(path.read_text()) if doc]
OUR_IMAGE = "syntha-redis"
SETTINGS = {f"SYNTHA_{name.upper()}" for name in Settings.model_fields}
SETTINGS |= set(DATABASE_URL_VARIABLES)  # the snapshot database, read as meshes read it
DEFAULTED = re.compile(r"\$\{\w+:-([^}]*)\}")


def interpolated(argv: list[str]) -> list[str]:
    """``argv`` with compose's ``${VAR:-default}`` replaced by its default."""
    return [DEFAULTED.sub(r"\1", arg) for arg in argv]


def parses(argv: list[str]) -> None:
    """``argv`` as the image runs it: the CLI, or the example worker."""
    if argv[:2] == ["python", "/app/examples/worker.py"]:
        sys.path.insert(0, str(REPO / "examples"))
        try:
            import worker
        finally:
            sys.path.pop(0)
        worker.build_parser().parse_args(argv[2:])
    else:
        build_parser().parse_args(argv)


def our_services() -> dict[str, Any]:
    return {name: s for name, s in COMPOSE["services"].items()
            if s.get("image", "").startswith(OUR_IMAGE)}


def containers() -> list[dict[str, Any]]:
    return [c for doc in MANIFESTS if doc["kind"] == "Deployment"
            for c in doc["spec"]["template"]["spec"]["containers"]]


def test_the_image_installs_the_version_in_pyproject() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    pinned = re.findall(r"^ARG SYNTHA_VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert pinned == [version, version]
    assert re.search(r"^USER 10001$", (REPO / "Dockerfile").read_text(), re.M)


def test_compose_runs_every_service_the_issue_names() -> None:
    commands = {name: (s.get("entrypoint") or ["syntha-redis"])[-1:] + s["command"]
                for name, s in our_services().items()}
    assert {"redis", "postgres"} <= set(COMPOSE["services"])
    assert commands["snapshot"][:3] == ["syntha-redis", "snapshot", "run"]
    assert commands["probes"][:2] == ["syntha-redis", "serve"]
    assert commands["mcp"][:2] == ["syntha-redis", "mcp"]
    assert commands["worker"][0] == "/app/examples/worker.py"


def test_compose_commands_parse() -> None:
    for service in our_services().values():
        entrypoint = service.get("entrypoint")
        argv = [*entrypoint, *service["command"]] if entrypoint else service["command"]
        parses(interpolated(argv))


def test_every_compose_service_is_health_checked_and_waits_for_healthy_dependencies() -> None:
    for name, service in COMPOSE["services"].items():
        assert service.get("healthcheck", {}).get("test"), name
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert dependency in COMPOSE["services"]
    for service in our_services().values():
        assert "redis" in service["depends_on"]


def test_compose_redis_never_evicts_items() -> None:
    command = COMPOSE["services"]["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_every_syntha_variable_set_is_a_setting() -> None:
    named = set(our_services()["worker"]["environment"])
    for doc in MANIFESTS:
        if doc["kind"] == "ConfigMap":
            named |= set(doc["data"])
    for container in containers():
        named |= {e["name"] for e in container.get("env", [])}
    assert {n for n in named if n.startswith("SYNTHA_")} - SETTINGS == set()
    assert "SYNTHA_REDIS_URL" in named


def test_manifest_commands_parse_and_probes_use_health_and_ready() -> None:
    for container in containers():
        parses([*container.get("command", []), *container["args"]])
        ports = {p["name"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["port"] in ports


def test_manifests_reference_the_secret_and_configmap_they_ship() -> None:
    shipped = {(doc["kind"], doc["metadata"]["name"]): doc for doc in MANIFESTS}
    secret = shipped[("Secret", "syntha-redis")]
    assert ("ConfigMap", "syntha-redis") in shipped
    for container in containers():
        assert container["envFrom"] == [{"configMapRef": {"name": "syntha-redis"}}]
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == "syntha-redis" and ref["key"] in secret["stringData"]


def test_every_deployment_has_a_disruption_budget_and_runs_as_non_root() -> None:
    budgets = {doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
               for doc in MANIFESTS if doc["kind"] == "PodDisruptionBudget"}
    for doc in MANIFESTS:
        if doc["kind"] == "Deployment":
            pod = doc["spec"]["template"]["spec"]
            assert doc["metadata"]["name"] in budgets
            assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_snapshot_worker_may_run_more_than_one_replica() -> None:
    snapshot = next(doc for doc in MANIFESTS
                    if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "syntha-snapshot")
    assert snapshot["spec"]["replicas"] > 1


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    return str(tmp_path / "snap.db")


def test_snapshot_run_serves_probes_while_it_runs(machine_url: str, sqlite_path: str) -> None:
    port = free_port()
    cli = Path(sys.executable).parent / "syntha-redis"
    proc = subprocess.Popen([str(cli), "snapshot", "run", "--sqlite", sqlite_path, "--port",
                             str(port), "--host", "127.0.0.1", "--redis-url", machine_url,
                             "--prefix", "tprobes-none"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert f"probes: http://127.0.0.1:{port}" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read())["ready"] is True
    finally:
        proc.terminate()
    assert proc.wait(timeout=15) == 0
