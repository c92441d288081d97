"""Every probe of issue 10's "raw or misleading errors", rerun as a table.

Each row is one failure at one entry point (library, async library, tools, CLI,
HTTP server). Each must surface as the SynthaError subclass that fits its cause,
with a suggestion about that cause (and not about another one), with no secret
of the URL anywhere, and never as a raw driver error or a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from syntha_redis import ContextMesh
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.cli import main
from syntha_redis.config import Settings
from syntha_redis.connection import ClusterUnavailable, describe_url, translate_error
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaConnectionError,
    SynthaError,
    SynthaPermissionError,
    SynthaPersistenceError,
    SynthaTimeoutError,
    SynthaValidationError,
)
from syntha_redis.tools import ToolHandler
from tests.support.servers import RedisProcess, free_port

SECRET = "hunter2-s3cret"


@dataclass(frozen=True)
class Expect:
    kind: type[SynthaError]
    says: str  # in the message (case-insensitive)
    suggests: str  # in the suggestions
    never: tuple[str, ...] = ()  # in neither (misleading advice, leaked secrets)


def check(error: SynthaError, expect: Expect) -> None:
    assert type(error) is expect.kind, f"{type(error).__name__}: {error}"
    assert expect.says.lower() in error.message.lower(), error.message
    advice = " | ".join(error.suggestions)
    assert expect.suggests.lower() in advice.lower(), advice
    shown = f"{error} {json.dumps(error.to_dict(), default=str)}"
    for word in (SECRET, *expect.never):
        assert word.lower() not in shown.lower(), f"{word!r} in {shown}"


# -- driver errors, one row per cause -------------------------------------------------

SETTINGS = Settings(redis_url=f"redis://app:{SECRET}@db.internal:6379/0?password={SECRET}")

DRIVER_ERRORS: list[tuple[str, Exception, Expect]] = [
    ("refused", redis.ConnectionError("Error 111 connecting"),
     Expect(SynthaConnectionError, "cannot reach", "is running")),
    ("timeout", redis.TimeoutError("Timeout reading"),
     Expect(SynthaTimeoutError, "timed out", "overloaded")),
    ("wrong password", redis.AuthenticationError("invalid username-password pair"),
     Expect(SynthaConnectionError, "refused the credentials", "password",
            never=("server is running", "start"))),
    ("no password", redis.AuthenticationError("NOAUTH Authentication required."),
     Expect(SynthaConnectionError, "credentials", "requirepass", never=("server is running",))),
    ("cluster seed down", ClusterUnavailable("Redis Cluster cannot be connected: Error 111"),
     Expect(SynthaConnectionError, "cannot reach Redis Cluster", "seed")),
    ("not a cluster node",
     ClusterUnavailable("Redis Cluster cannot be connected: Cluster mode is not enabled"),
     Expect(SynthaConfigurationError, "not a cluster node", "redis://")),
    ("raw cluster exception",
     redis.exceptions.RedisClusterException("Cluster mode is not enabled on this node"),
     Expect(SynthaConfigurationError, "not a cluster node", "redis://")),
    ("cluster down", redis.exceptions.ClusterDownError("The cluster is down"),
     Expect(SynthaConnectionError, "cluster is down", "failover", never=("memory",))),
    ("slot moving", redis.exceptions.TryAgainError("TRYAGAIN"),
     Expect(SynthaConnectionError, "cannot serve", "retry")),
    ("out of memory",
     redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
     Expect(SynthaPersistenceError, "out of memory", "maxmemory-policy")),
    ("acl", redis.exceptions.NoPermissionError("NOPERM this user has no permissions"),
     Expect(SynthaPermissionError, "ACL refused", "Redis user")),
    ("replica", redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
     Expect(SynthaConnectionError, "read-only replica", "primary")),
    ("secret in the driver's words", redis.ResponseError(f"ERR bad thing {SECRET}"),
     Expect(SynthaPersistenceError, "refused", "Check the Redis server")),
]


@pytest.mark.parametrize(
    "raw,expect", [row[1:] for row in DRIVER_ERRORS], ids=[row[0] for row in DRIVER_ERRORS]
)
def test_each_driver_error_is_translated_by_its_cause(raw: Exception, expect: Expect) -> None:
    check(translate_error(raw, SETTINGS, "push"), expect)


@pytest.mark.parametrize("url", [
    f"redis://:{SECRET}@h:6379/0",
    f"redis://user:{SECRET}@h/0",
    f"redis://h/0?password={SECRET}",
    f"rediss://u:{SECRET}@h:6380/0?ssl_cert_reqs=none&password={SECRET}",
    f"redis+cluster://u:{SECRET}@h:7000/0",
    f"redis://h/0?db=1&Password={SECRET}",
])
def test_urls_are_shown_with_every_secret_masked(url: str) -> None:
    shown = describe_url(url)
    assert SECRET not in shown and "***" in shown and "h" in shown


# -- live failures through the library, async library and CLI --------------------------


@pytest.fixture
def dead_port() -> int:
    return free_port()


@pytest.fixture
def locked_redis(private_redis: RedisProcess) -> Iterator[RedisProcess]:
    redis.Redis.from_url(private_redis.url).config_set("requirepass", SECRET)
    yield private_redis
    redis.Redis.from_url(private_redis.url, password=SECRET).config_set("requirepass", "")


def cluster_seed_down(port: int) -> str:
    return f"redis+cluster://127.0.0.1:{port}/0"


def test_cluster_url_at_a_down_seed(dead_port: int) -> None:
    with pytest.raises(SynthaError) as caught:
        ContextMesh(user_id="u", redis_url=cluster_seed_down(dead_port), retries=0).get("k")
    check(caught.value, Expect(SynthaConnectionError, "cannot reach Redis Cluster", "seed"))


def test_cluster_url_at_a_standalone_node(machine_url: str) -> None:
    url = machine_url.replace("redis://", "redis+cluster://")
    with pytest.raises(SynthaError) as caught:
        ContextMesh(user_id="u", redis_url=url).get("k")
    check(caught.value, Expect(SynthaConfigurationError, "not a cluster node", "redis://"))


@pytest.mark.parametrize("standalone", [False, True], ids=["down seed", "standalone node"])
async def test_async_cluster_url_errors_are_typed(
    standalone: bool, dead_port: int, machine_url: str
) -> None:
    url = (machine_url.replace("redis://", "redis+cluster://") if standalone
           else cluster_seed_down(dead_port))
    async with AsyncContextMesh(user_id="u", redis_url=url, retries=0) as mesh:
        with pytest.raises(SynthaError) as caught:
            await mesh.get("k")
    kind = SynthaConfigurationError if standalone else SynthaConnectionError
    assert type(caught.value) is kind


@pytest.mark.parametrize("command", [["get", "k"], ["health"], ["list", "--agent", "a"]])
@pytest.mark.parametrize("standalone", [False, True], ids=["down seed", "standalone node"])
def test_cli_commands_on_a_bad_cluster_url_print_a_clean_error(
    command: list[str], standalone: bool, dead_port: int, machine_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = (machine_url.replace("redis://", "redis+cluster://") if standalone
           else cluster_seed_down(dead_port))
    assert main([*command, "--redis-url", url, "--user", "u"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "suggestion: " in err
    assert "Traceback" not in err and "RedisClusterException" not in err


@pytest.fixture
def failing_over_cluster() -> Iterator[tuple[RedisProcess, ContextMesh]]:
    """A one-node cluster whose state is 'fail' for a few seconds, as during a failover:
    its slots are dropped and re-added, and a node leaves the fail state only after
    a rejoin delay."""
    node = RedisProcess(extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                               "--cluster-node-timeout", "5000"))
    node.start()
    try:
        admin = redis.Redis(port=node.port)
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 20
        while admin.cluster("INFO")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "the one-node cluster never came up"
            time.sleep(0.05)
        mesh = ContextMesh(user_id="u", redis_url=f"redis+cluster://127.0.0.1:{node.port}/0",
                           auto_cleanup=False)
        mesh.push("k", 1)
        admin.execute_command("CLUSTER", "DELSLOTSRANGE", 0, 16383)
        admin.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        yield node, mesh
    finally:
        node.stop()


def test_cluster_down_during_a_failover_is_a_connection_error_to_retry(
    failing_over_cluster: tuple[RedisProcess, ContextMesh],
) -> None:
    _, mesh = failing_over_cluster
    with pytest.raises(SynthaError) as caught:
        mesh.push("k", 2)
    check(caught.value, Expect(SynthaConnectionError, "cluster is down", "failover",
                               never=("enough memory", "maxmemory")))


def test_a_wrong_password_suggests_credentials_not_starting_a_server(
    locked_redis: RedisProcess,
) -> None:
    for url in (f"redis://:wrong-{SECRET}@127.0.0.1:{locked_redis.port}/0",
                f"redis://127.0.0.1:{locked_redis.port}/0?password=wrong-{SECRET}",
                locked_redis.url):
        with pytest.raises(SynthaError) as caught:
            ContextMesh(user_id="u", redis_url=url, retries=0).push("k", 1)
        check(caught.value, Expect(SynthaConnectionError, "credentials", "password",
                                   never=("Check that a Redis server is running",)))


def test_a_wrong_password_in_the_cli(locked_redis: RedisProcess,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:wrong-{SECRET}@127.0.0.1:{locked_redis.port}/0"
    assert main(["get", "k", "--redis-url", url, "--user", "u"]) == 2
    err = capsys.readouterr().err
    assert "credentials" in err and SECRET not in err and "Traceback" not in err


def test_out_of_memory_names_maxmemory_and_the_eviction_policy(
    private_redis: RedisProcess,
) -> None:
    client = redis.Redis.from_url(private_redis.url)
    mesh = ContextMesh(user_id="u", redis_url=private_redis.url, auto_cleanup=False)
    mesh.push("kept", "safe")
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 100_000)
    with pytest.raises(SynthaError) as caught:
        for i in range(1000):
            mesh.push(f"filler-{i}", "x" * 1000)
    check(caught.value, Expect(SynthaPersistenceError, "maxmemory", "maxmemory-policy"))
    assert "noeviction" in " ".join(caught.value.suggestions)
    client.config_set("maxmemory", 0)
    assert mesh.get("kept") == "safe"


def test_secrets_are_masked_in_every_error_form(dead_port: int) -> None:
    url = f"redis://app:{SECRET}@127.0.0.1:{dead_port}/0?password={SECRET}"
    mesh = ContextMesh(user_id="u", redis_url=url, retries=0, connect_timeout=0.2,
                       auto_cleanup=False)
    with pytest.raises(SynthaError) as caught:
        mesh.get("k")
    check(caught.value, Expect(SynthaConnectionError, "cannot reach", "running"))
    report = mesh.health()
    assert SECRET not in report.model_dump_json() and SECRET not in repr(mesh)
    result = ToolHandler(mesh, "a").handle_tool_call("get_context")
    assert result["success"] is False and SECRET not in json.dumps(result)


# -- bad input: names, values, arguments ------------------------------------------------

SURROGATE = "bad\ud800name"

NAME_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("key", lambda m: m.push(SURROGATE, 1)),
    ("get key", lambda m: m.get(SURROGATE)),
    ("topic", lambda m: m.push("k", 1, topics=[SURROGATE])),
    ("subscriber", lambda m: m.push("k", 1, subscribers=[SURROGATE])),
    ("author", lambda m: m.push("k", 1, agent_name=SURROGATE)),
    ("agent", lambda m: m.get_all_for_agent(SURROGATE)),
    ("subscribe", lambda m: m.register_agent_topics("a", [SURROGATE])),
    ("subscriber agent", lambda m: m.register_agent_topics(SURROGATE, ["t"])),
    ("topic lookup", lambda m: m.get_subscribers_for_topic(SURROGATE)),
    ("delete topic", lambda m: m.delete_topic(SURROGATE)),
    ("permissions", lambda m: m.set_agent_post_permissions(SURROGATE, ["t"])),
    ("watch", lambda m: m.watch(SURROGATE, timeout=0)),
    ("batch key", lambda m: m.push_many([{"key": SURROGATE, "value": 1}])),
    ("get_many", lambda m: m.get_many([SURROGATE])),
    ("value", lambda m: m.push("k", SURROGATE)),
    ("value dict key", lambda m: m.push("k", {SURROGATE: 1})),
]


@pytest.mark.parametrize("call", [c[1] for c in NAME_CALLS], ids=[c[0] for c in NAME_CALLS])
def test_a_lone_surrogate_anywhere_is_a_validation_error(
    mesh: ContextMesh, call: Callable[[Any], Any]
) -> None:
    before = mesh.get_stats()
    with pytest.raises(SynthaValidationError) as caught:
        call(mesh)
    assert caught.value.suggestion
    caught.value.message.encode("utf-8")  # the message itself is valid text
    assert mesh.get_stats() == before


def test_a_lone_surrogate_user_id_is_a_validation_error(redis_url: str | None) -> None:
    with pytest.raises(SynthaValidationError):
        ContextMesh(user_id=SURROGATE, redis_url=redis_url)


TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("push_context", {"key": SURROGATE, "value": "v"}),
    ("push_context", {"key": "k", "value": SURROGATE}),
    ("push_context", {"key": "k", "value": f'"{SURROGATE}"'}),
    ("push_context", {"key": "k", "value": '"\\ud800"'}),  # JSON's escape for it
    ("push_context", {"key": "k", "value": "v", "topics": [SURROGATE]}),
    ("push_context", {"key": "k", "value": "v", "subscribers": [SURROGATE]}),
    ("get_context", {"keys": [SURROGATE]}),
    ("subscribe_to_topics", {"topics": [SURROGATE]}),
    ("unsubscribe_from_topics", {"topics": [SURROGATE]}),
    ("delete_topic", {"topic": SURROGATE, "confirm": True}),
    ("push_context", {"key": "k", "value": "[" * 5000 + "]" * 5000}),
    ("push_context", {"key": "k", "value": "v", "topics": [[[[["deep"]]]]]}),
    ("push_context", {"key": "k", "value": "v", SURROGATE: 1}),
]


@pytest.mark.parametrize("tool,arguments", TOOL_CALLS)
def test_hostile_tool_arguments_fail_cleanly(
    mesh: ContextMesh, tool: str, arguments: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    handler = ToolHandler(mesh, "Alice")
    before = mesh.get_stats()
    with caplog.at_level(logging.DEBUG):
        result = handler.handle_tool_call(tool, **arguments)
    assert result["success"] is False
    assert result["error"] and result["suggestion"] and "Internal error" not in result["error"]
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # valid text all the way down
    assert not [r for r in caplog.records if r.exc_info or "Recursion" in r.getMessage()]
    assert mesh.get_stats() == before


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("value", [deep(5000), {"a": deep(5000)}, deep(600)],
                         ids=["list 5000", "dict 5000", "list 600"])
def test_a_value_nested_too_deep_is_a_validation_error_without_a_traceback(
    mesh: ContextMesh, value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), pytest.raises(SynthaValidationError) as caught:
        mesh.push("k", value)
    assert "levels deep" in caught.value.message and caught.value.suggestion
    assert not [r for r in caplog.records if r.exc_info]
    assert mesh.get("k") is None


BAD_ARGUMENTS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("push(foo=1)", lambda m: m.push(foo=1), "unexpected keyword argument 'foo'"),
    ("push(k, v, foo=1)", lambda m: m.push("k", 1, foo=1), "'foo'"),
    ("push()", lambda m: m.push(), "missing a required argument"),
    ("push_many(5)", lambda m: m.push_many(5), "list of item dicts"),
    ("push_many('ab')", lambda m: m.push_many("ab"), "list of item dicts"),
    ("push_many([{key}])", lambda m: m.push_many([{"key": "k"}]), "lacks value"),
    ("push_many([{value}])", lambda m: m.push_many([{"value": 1}]), "lacks key"),
    ("push_many([5])", lambda m: m.push_many([5]), "must be a dict"),
    ("push_many([{foo}])", lambda m: m.push_many([{"key": "k", "value": 1, "foo": 2}]),
     "unknown field"),
]


@pytest.mark.parametrize("call,says", [row[1:] for row in BAD_ARGUMENTS],
                         ids=[row[0] for row in BAD_ARGUMENTS])
def test_bad_arguments_are_validation_errors_not_type_errors(
    mesh: ContextMesh, call: Callable[[Any], Any], says: str
) -> None:
    with pytest.raises(SynthaValidationError, match=says) as caught:
        call(mesh)
    assert caught.value.suggestion
    assert mesh.size() == 0


@pytest.mark.parametrize("call,says", [row[1:] for row in BAD_ARGUMENTS],
                         ids=[row[0] for row in BAD_ARGUMENTS])
def test_bad_arguments_on_the_async_mesh(
    redis_url: str | None, key_prefix: str, call: Callable[[Any], Any], says: str
) -> None:
    async def attempt() -> None:
        async with AsyncContextMesh(user_id="u", redis_url=redis_url,
                                    key_prefix=key_prefix) as mesh:
            with pytest.raises(SynthaValidationError, match=says):
                await call(mesh)

    asyncio.run(attempt())


@pytest.mark.parametrize("user_id", ["", 0, False])
def test_falsy_user_ids_are_refused(redis_url: str | None, user_id: object) -> None:
    with pytest.raises(SynthaValidationError, match="user_id"):
        ContextMesh(user_id=user_id, redis_url=redis_url)  # type: ignore[arg-type]


# -- serve --------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


SERVE_FAILURES: list[tuple[str, Callable[[int], list[str]], str]] = [
    ("busy port", lambda busy: ["--host", "127.0.0.1", "--port", str(busy)], "already in use"),
    ("unknown host", lambda busy: ["--host", "no-such-host.invalid", "--port", "0"],
     "does not resolve"),
    ("foreign address", lambda busy: ["--host", "192.0.2.1", "--port", "0"],
     "not an address of this machine"),
    ("port out of range", lambda busy: ["--host", "127.0.0.1", "--port", "70000"], "port"),
]


@pytest.mark.parametrize("arguments,says", [row[1:] for row in SERVE_FAILURES],
                         ids=[row[0] for row in SERVE_FAILURES])
def test_serve_that_cannot_listen_prints_a_clean_error(
    busy_port: int, arguments: Callable[[int], list[str]], says: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", *arguments(busy_port)]) == 2
    err = capsys.readouterr().err
    assert says in err and "suggestion: " in err and "Traceback" not in err


def test_probes_serve_while_the_cluster_seed_is_down(dead_port: int) -> None:
    from syntha_redis.http import start_http_server

    settings = Settings(redis_url=cluster_seed_down(dead_port), retries=0)
    with start_http_server(settings, port=0, host="127.0.0.1") as server:
        assert server.answer("/health")[0] == 200
        status, _, body = server.answer("/ready")
    report = json.loads(body)
    assert status == 503 and report["ready"] is False
    assert "cannot reach Redis Cluster" in report["error"] and report["suggestions"]
