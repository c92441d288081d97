"""The deployment files say what the code understands: one image name and tag,
every command they run parses, every variable they set is a setting, every scraped
job exports metrics, every file they name exists, every service is health-checked.

``make deploy-check`` validates their syntax (hadolint, the compose specification,
the Kubernetes schemas); these tests check their meaning against the code.
"""

from __future__ import annotations

import json
import os
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
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IMAGE = f"{OUR_IMAGE}:{VERSION}"  # `make image`
DEPLOY_FILES = [REPO / "Dockerfile", REPO / "docker-compose.yml", REPO / "Makefile",
                *sorted(p for p in (REPO / "deploy").rglob("*") if p.is_file())]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
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
    pinned = re.findall(r"^ARG SYNTHA_VERSION=(\S+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert pinned == [VERSION, VERSION]
    assert re.search(r"^USER 10001$", (REPO / "Dockerfile").read_text(), re.M)


def test_one_image_name_and_tag_everywhere() -> None:
    # --no-print-directory: under `make test` (MAKELEVEL set) make names the directory
    built = subprocess.run(["make", "-n", "--no-print-directory", "image"], cwd=REPO,
                           capture_output=True, text=True,
                           check=True).stdout
    assert built.strip() == f"docker build -t {IMAGE} ."
    assert {s["image"] for s in our_services().values()} == {IMAGE}
    assert {c["image"] for c in containers()} == {IMAGE}
    for path in [*DEPLOY_FILES, *DOCS]:
        if path.name == "Makefile":  # where it is defined, checked above
            continue
        text = path.read_text()
        # every image reference names the one tag, and nothing builds another
        for tag in re.findall(rf"\b{OUR_IMAGE}:([\w.${{}}:-]+)", text):
            assert tag == VERSION, (path.name, tag)
        for built_tag in re.findall(r"docker build -t (\S+)", text):
            assert built_tag in (IMAGE, "$(IMAGE)"), (path.name, built_tag)


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


def test_every_variable_set_for_our_containers_is_a_setting() -> None:
    named = {name for s in our_services().values() for name in s["environment"]}
    for doc in MANIFESTS:
        if doc["kind"] == "ConfigMap":
            named |= set(doc["data"])
    for container in containers():
        named |= {e["name"] for e in container.get("env", [])}
    assert named - SETTINGS == set()
    assert "SYNTHA_REDIS_URL" in named


def test_every_listener_in_a_container_listens_on_every_interface() -> None:
    """Listeners bind 127.0.0.1 unless told; in a container that is unreachable."""
    dockerfile = (REPO / "Dockerfile").read_text()
    runs = [json.loads(re.search(r"^CMD (.*)$", dockerfile, re.M).group(1))]  # type: ignore[union-attr]
    runs += [s["command"] for s in our_services().values()]
    runs += [c["args"] for c in containers()]
    listeners = [argv for argv in runs if "--port" in argv]
    assert len(listeners) == 1 + len(our_services()) + len(containers())
    for argv in listeners:
        assert argv[argv.index("--host") + 1] == "0.0.0.0", argv


def test_the_dockerfile_command_parses() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (.*)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    assert entrypoint == ["syntha-redis"]
    parses(command)


def _metrics_on(environment: dict[str, str]) -> bool:
    """Whether SYNTHA_METRICS_ENABLED in ``environment`` turns them on, as Settings reads it."""
    value = environment.get("SYNTHA_METRICS_ENABLED") or False
    return Settings.model_validate({"metrics_enabled": value}).metrics_enabled


def _exports_syntha_series(argv: list[str], environment: dict[str, str]) -> bool:
    """``serve`` exports the mesh gauges; any other process its counters when on."""
    return "serve" in argv[:1] or _metrics_on(environment)


def test_every_job_compose_scrapes_exports_syntha_series() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        names = [t.split(":")[0] for c in job.get("static_configs", []) for t in c["targets"]]
        names += [n for c in job.get("dns_sd_configs", []) for n in c["names"]]
        assert names, job["job_name"]
        for name in names:
            service = our_services()[name]
            argv = [*service.get("entrypoint", [])[1:], *service["command"]]
            assert _exports_syntha_series(argv, service["environment"]), (job["job_name"], name)


def test_every_job_kubernetes_scrapes_exports_syntha_series() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "kubernetes.yml").read_text())
    shared = next(doc["data"] for doc in MANIFESTS if doc["kind"] == "ConfigMap")
    selectors = {doc["metadata"]["name"]: doc["spec"]["selector"]["app.kubernetes.io/name"]
                 for doc in MANIFESTS if doc["kind"] == "Service"}
    deployments = {doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]
                   for doc in MANIFESTS if doc["kind"] == "Deployment"}
    for job in config["scrape_configs"]:
        kept = next(r for r in job["relabel_configs"] if r.get("action") == "keep")
        name = kept["regex"]
        if kept["source_labels"] == ["__meta_kubernetes_service_name"]:
            name = selectors[name]
        container = deployments[name]
        environment = {**shared, **{e["name"]: e.get("value", "") for e in container["env"]}}
        assert _exports_syntha_series(container["args"], environment), job["job_name"]


REPO_PATH = re.compile(r"(?<![\w/.])((?:deploy|docs|examples|benchmarks|tests|syntha_redis)"
                       r"/[\w./-]*\w)")


def test_every_file_the_deploy_files_and_the_docs_name_exists() -> None:
    named = {(path.name, ref) for path in [*DEPLOY_FILES, *DOCS]
             for ref in REPO_PATH.findall(path.read_text())}
    assert ("probes.yaml", "deploy/prometheus/kubernetes.yml") in named
    for where, ref in named:
        assert (REPO / ref).exists(), (where, ref)
    # the image's copy of the example worker, which compose and the manifests run
    assert "COPY --chown=root:root examples/worker.py ./examples/worker.py" in \
        (REPO / "Dockerfile").read_text()


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


def test_snapshot_run_serves_probes_and_its_counters_while_it_runs(
        machine_url: str, sqlite_path: str) -> None:
    """As compose and the manifests run it (SYNTHA_METRICS_ENABLED): the syntha-snapshot
    scrape job gets syntha_* series."""
    port = free_port()
    cli = Path(sys.executable).parent / "syntha-redis"
    proc = subprocess.Popen([str(cli), "snapshot", "run", "--sqlite", sqlite_path, "--port",
                             str(port), "--redis-url", machine_url,
                             "--prefix", "tprobes-none"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "SYNTHA_METRICS_ENABLED": "1"})
    try:
        assert proc.stdout is not None
        assert f"probes: http://127.0.0.1:{port} (" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read())["ready"] is True
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            assert b"syntha_redis_operations_total{" in reply.read()
    finally:
        proc.terminate()
    assert proc.wait(timeout=15) == 0
