"""An operator's day (issue 22), each step run as the operator runs it: the
``syntha-redis`` command in its own process. Nothing reports success while nothing
happened, listeners say where they listen, errors name the real fix, no traceback."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from syntha_redis import ContextMesh, Settings
from syntha_redis.cli import main
from syntha_redis.core.operations import MeshOperations
from syntha_redis.live.sweeper import Sweeper
from syntha_redis.ops import mcp_server
from syntha_redis.ops.http import start_http_server
from tests.conftest import delete_prefix
from tests.support.servers import RedisProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "syntha-redis")


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 60,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHA_", "DATABASE_"))}
    return subprocess.run([CLI, *argv], env={**base, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, input=stdin)


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "Error:" not in done.stderr.replace(
        "error:", ""), done.stderr


@pytest.fixture
def prefix(machine_url: str) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(machine_url, prefix)


# -- commands that change something need a server --------------------------------


CHANGING = [
    ["push", "k", "1"],
    ["limits", "set", "max_items_per_user=5"],
    ["limits", "sync"],
    ["scripts", "load"],
    ["acl", "apply", "--user", "alice"],
    ["snapshot", "restore", "--sqlite", "snap.db"],
    ["snapshot", "run", "--once", "--sqlite", "snap.db"],
]


def test_a_changing_command_without_a_url_exits_2_as_health_does(tmp_path: Path) -> None:
    done = subprocess.run([CLI, "push", "k", "1"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items()
                                                      if not k.startswith("SYNTHA_")})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: no Redis URL given (--redis-url or SYNTHA_REDIS_URL)")


@pytest.mark.parametrize("argv", CHANGING, ids=lambda argv: "-".join(argv[:2]))
def test_every_changing_command_refuses_the_throwaway_store(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHA_REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: no Redis URL given")
    assert "--embedded" in err
    assert not (tmp_path / "snap.db").exists()  # not even the snapshot was opened


def test_embedded_is_the_explicit_request_for_the_throwaway_store() -> None:
    done = cli("push", "k", "1", "--embedded")
    assert done.returncode == 0 and "pushed 'k'" in done.stdout


def test_an_empty_key_is_refused_by_the_cli_as_by_the_tools(machine_url: str,
                                                          prefix: str) -> None:
    done = cli("push", "", "x", "--redis-url", machine_url, "--prefix", prefix)
    assert done.returncode == 2 and "error: key must not be empty" in done.stderr
    with ContextMesh(user_id="default", redis_url=machine_url, key_prefix=prefix,
                     auto_cleanup=False) as mesh:
        assert mesh.get("") is None  # nothing was written


def test_version_is_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert cli("--version").stdout == f"syntha-redis {version}\n"
    module = subprocess.run([sys.executable, "-m", "syntha_redis.cli", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert module.stdout.strip().endswith(version)


# -- no tracebacks --------------------------------------------------------------


def test_a_reader_that_stops_early_ends_the_command_quietly(machine_url: str,
                                                            prefix: str) -> None:
    with ContextMesh(user_id="acme", redis_url=machine_url, key_prefix=prefix,
                     auto_cleanup=False) as mesh:
        mesh.push("big", "x" * 300_000)
        # one line per topic, 200 lines of ~900 characters: more than a pipe holds
        mesh.push_many([{"key": f"{i:04d}" + "k" * 900, "value": i, "topics": [f"t{i}"]}
                        for i in range(200)])
        mesh.register_agent_topics("A", [f"t{i}" for i in range(200)])
    env = {"SYNTHA_REDIS_URL": machine_url, "SYNTHA_KEY_PREFIX": prefix}
    for command in ("get big --user acme | head -c 20",
                    "list --agent A --user acme | head -1"):
        done = subprocess.run(["bash", "-c", f"{CLI} {command}; echo rc=${{PIPESTATUS[0]}}"],
                              env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=60)
        assert "rc=141" in done.stdout and done.stderr == "", (command, done.stderr)


@pytest.mark.parametrize("action", ["run", "restore", "verify"])
def test_an_unreadable_dsn_is_an_error_with_a_suggestion(action: str, machine_url: str,
                                                         prefix: str) -> None:
    done = cli("snapshot", action, "--dsn", "notadsn", "--redis-url", machine_url,
               "--prefix", prefix)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read the Postgres connection string")
    assert "suggestion: Write it as postgresql://" in done.stderr
    no_traceback(done)


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_the_durable_snippet_with_an_unknown_host_fails_fast_with_the_cause(
    durability: str,
) -> None:
    # sync: the mesh refuses to start; async: it starts, and its first write (a new
    # keyspace is restored from the snapshot first) fails, each in the connect timeout
    code = ('from syntha_redis import ContextMesh\n'
            'mesh = ContextMesh(user_id="acme", db_backend="postgresql",\n'
            f'                  durability="{durability}",\n'
            '                  connection_string="postgresql://app@db/syntha")\n'
            'mesh.push("contract", "signed")\n')
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items()
                                           if not k.startswith("SYNTHA_")})
    assert done.returncode == 1 and time.monotonic() - started < 15
    assert "Postgres at postgresql://db:5432/syntha: failed to resolve host" in done.stderr
    assert "after 30" not in done.stderr  # not the pool's wait


def test_rediss_against_a_plain_server_says_tls_is_the_likely_cause(machine_url: str) -> None:
    plain = machine_url.replace("redis://", "rediss://", 1)
    done = cli("get", "k", "--redis-url", plain,
               env={"SYNTHA_SOCKET_TIMEOUT": "0.5", "SYNTHA_RETRIES": "0"})
    assert done.returncode == 2
    assert "the URL asks for TLS (rediss://)" in done.stderr
    assert "Use redis:// if the server does not speak TLS" in done.stderr


def test_watch_with_a_refused_since_offers_no_resume_point(machine_url: str,
                                                           prefix: str) -> None:
    done = cli("watch", "--agent", "A", "--since", "garbage", "--redis-url", machine_url,
               "--prefix", prefix)
    assert done.returncode == 2 and "since must be an event id" in done.stderr
    assert "resume with" not in done.stderr


# -- listeners ------------------------------------------------------------------


def listening_address(port: int) -> str:
    """The local address a process listens on at ``port``, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            return socket.inet_ntoa(bytes.fromhex(address)[::-1])
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.parametrize("host,said", [(None, "serving http://127.0.0.1:{port} ("),
                                       ("0.0.0.0", "serving http://0.0.0.0:{port} on every "
                                                   "interface (")])
def test_serve_binds_the_loopback_unless_told_and_says_where(
        host: str | None, said: str, machine_url: str, prefix: str) -> None:
    port = free_port()
    argv = [CLI, "serve", "--port", str(port), "--redis-url", machine_url, "--prefix", prefix]
    proc = subprocess.Popen([*argv, *(["--host", host] if host else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(said.format(port=port))
        assert listening_address(port) == (host or "127.0.0.1")
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_the_library_listener_binds_the_loopback_by_default(machine_url: str) -> None:
    with start_http_server(Settings(redis_url=machine_url), port=0) as server:
        assert listening_address(server.port) == "127.0.0.1"
        assert server.where == f"http://127.0.0.1:{server.port}"


def test_serve_refuses_json_instead_of_ignoring_it() -> None:
    done = cli("serve", "--json")
    assert done.returncode == 2 and "unrecognized arguments: --json" in done.stderr


def test_mcp_over_http_on_a_busy_port_fails_before_announcing(machine_url: str,
                                                              prefix: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = cli("mcp", "--transport", "http", "--port", str(port), "--user", "u",
                   "--agent", "a", "--redis-url", machine_url, "--prefix", prefix)
    assert done.returncode == 2
    assert f"error: cannot serve on 127.0.0.1:{port}: it is already in use" in done.stderr
    assert "serving MCP" not in done.stderr
    no_traceback(done)


def test_no_maintenance_help_does_not_send_tenants_there() -> None:
    text = " ".join(cli("snapshot", "run", "--help").stdout.split())
    assert "--no-maintenance" in text and "needs admin credentials" in text
    assert "use when this worker runs with tenant credentials" not in text


# -- tenants ----------------------------------------------------------------------


def documented_names() -> list[tuple[str, str]]:
    """(user id, Redis user) rows of docs/tenants.md."""
    text = (ROOT / "docs" / "tenants.md").read_text()
    return re.findall(r"^\| `([^`]+)` \| `(syntha~[^`]+)` \|$", text, re.M)


@pytest.fixture(scope="module")
def tenant_server() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    assert main(["scripts", "load", "--redis-url", server.url]) == 0
    yield server
    server.stop()


def test_the_docs_cover_the_characters_users_have() -> None:
    users = "".join(user for user, _ in documented_names())
    assert all(c in users for c in "@:/% ë")


@pytest.mark.parametrize("user,name", documented_names())
def test_a_tenant_name_works_in_a_url_exactly_as_the_docs_write_it(
        user: str, name: str, tenant_server: RedisProcess,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANT_PW", "s3cret")
    assert main(["acl", "apply", "--user", user, "--password-env", "TENANT_PW",
                 "--redis-url", tenant_server.url, "--prefix", "syntha"]) == 0
    assert f"redis://{name}:<password>@" in capsys.readouterr().out
    # the tenant's worker, in its own process, with the URL as the docs write it
    url = f"redis://{name}:s3cret@127.0.0.1:{tenant_server.port}/0"
    pushed = cli("push", "k", "v", "--user", user, "--redis-url", url,
                 env={"SYNTHA_KEY_PREFIX": "syntha", "SYNTHA_SWEEP_REGISTERED_USERS": "0"})
    assert pushed.returncode == 0, pushed.stderr
    with ContextMesh(user_id=user, redis_url=tenant_server.url, key_prefix="syntha",
                     auto_cleanup=False) as mesh:
        assert mesh.get("k") == "v"


@pytest.fixture
def alice(tenant_server: RedisProcess) -> str:
    """The URL of tenant alice (prefix syntha) on the module's server."""
    os.environ["ALICE_PW"] = "pw-alice"
    try:
        assert main(["acl", "apply", "--user", "alice", "--password-env", "ALICE_PW",
                     "--redis-url", tenant_server.url, "--prefix", "syntha"]) == 0
    finally:
        del os.environ["ALICE_PW"]
    return f"redis://syntha~alice:pw-alice@127.0.0.1:{tenant_server.port}/0"


def test_a_tenants_health_after_script_flush_names_the_admin_fix(
        alice: str, tenant_server: RedisProcess) -> None:
    admin = redis.Redis(port=tenant_server.port)
    admin.script_flush()
    try:
        done = cli("health", "--user", "alice", "--redis-url", alice, "--prefix", "syntha")
        with start_http_server(Settings(redis_url=alice, key_prefix="syntha"), 0) as probes:
            ready = probes.answer("/ready")[2].decode()
    finally:
        assert main(["scripts", "load", "--redis-url", tenant_server.url]) == 0
        admin.close()
    assert done.returncode == 1
    for said in (done.stdout, ready):
        assert "scripts are not loaded" in said and "syntha-redis snapshot run" in said
        assert "syntha-redis scripts load" in said
        assert "acl apply" not in said and "Redis user of this mesh" not in said


class _Mesh:
    """Something the sweeper can hold weakly, standing for a mesh."""


def test_a_tenant_process_stops_the_fleet_sweep_after_saying_once_how_to_turn_it_off(
        alice: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(redis_url=alice, key_prefix="syntha", cleanup_interval=0.01)
    assert settings.sweep_registered_users  # the variable was not set
    sweeper, mesh = Sweeper(), _Mesh()
    sweeper.add(mesh, MeshOperations(settings, "alice"))
    with caplog.at_level(logging.WARNING, logger="syntha_redis.sweeper"):
        for passes in range(1, 4):
            swept = sweeper.run_once(time.monotonic() + passes)
            assert ("syntha", "alice") == (swept and next(iter(swept))[1:])  # alice herself
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 1, told
    assert "SYNTHA_SWEEP_REGISTERED_USERS=0" in told[0] and "stops" in told[0]


def test_mcp_with_another_tenants_credentials_fails_at_start(alice: str) -> None:
    done = cli("mcp", "--user", "bob", "--agent", "a", "--redis-url", alice, "--prefix",
               "syntha", stdin="")
    assert done.returncode == 2
    assert "error: Redis ACL refused" in done.stderr
    no_traceback(done)


def test_a_refused_tool_call_does_not_show_the_model_the_server_or_redis_user(
        alice: str) -> None:
    handler = mcp_server.build_handler(Settings(redis_url=alice, key_prefix="syntha"),
                                       "bob", "a")

    async def call() -> dict[str, Any]:
        try:
            return await mcp_server._call(handler, "push_context", {"key": "k", "value": "v"})
        finally:
            await handler.context_mesh.close()

    result = anyio.run(call)
    shown = str(result)
    assert result["success"] is False and "context store refused" in result["error"]
    assert "syntha~alice" not in shown and "127.0.0.1" not in shown and "redis://" not in shown
