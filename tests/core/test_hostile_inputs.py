"""Generated hostile input through every public entry point.

Hypothesis draws names (lone surrogates, braces and globs, control characters,
over-long, empty, non-strings), values (deep nesting, cycles, surrogates, huge,
unencodable) and tool arguments, and sends them through the sync and async
meshes, the sync and async tool handlers, the CLI, the MCP server and the HTTP
probes. Every case must end in success or a typed error (a SynthaError; for
tools a ``success: False`` result with an error and a suggestion, as valid
text), and must leave another user's keyspace, and the caller's other keys,
exactly as they were.

Examples per test: ``HOSTILE_EXAMPLES`` on fakeredis, a quarter of that on the
real Redis (and the MCP server, which needs one). Run with ``-s`` to see the
tally of cases tried and bad outcomes.
"""

from __future__ import annotations

import asyncio
import collections.abc
import concurrent.futures
import json
import logging
import os
import types
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syntha_redis import ContextMesh, SynthaError
from syntha_redis.agents.schemas import TOOL_NAMES, get_all_tool_schemas
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.cli import main
from syntha_redis.core.config import Settings
from syntha_redis.live.events import ChangeEvent
from syntha_redis.ops.http import ProbeServer
from syntha_redis.tools import ToolHandler
from tests.conftest import raw_client
from tests.support.async_mesh import EventLoopThread

HOSTILE_EXAMPLES = int(os.environ.get("SYNTHA_HOSTILE_EXAMPLES", "200"))
TALLY: Counter[str] = Counter()

VICTIM, ATTACKER = "victim", "attacker"
BYSTANDER_KEY, BYSTANDER_TOPIC, BYSTANDER_AGENT = "bystander", "bystander-topic", "watcher"
RESERVED = {VICTIM, ATTACKER, BYSTANDER_KEY, BYSTANDER_TOPIC, BYSTANDER_AGENT, "default"}
LIMITS: dict[str, Any] = {
    "max_key_length": 64, "max_name_length": 32, "max_value_bytes": 20_000,
    "max_visible_items": 5, "max_batch_items": 5, "max_topics_per_item": 4,
    "max_subscribers_per_item": 4, "max_topics_per_agent": 8, "auto_cleanup": False,
}


@pytest.fixture(params=["fakeredis", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """This suite runs on fakeredis and the machine's Redis (not the cluster)."""
    return str(request.param)


def examples(backend: str) -> int:
    return HOSTILE_EXAMPLES if backend == "fakeredis" else max(10, HOSTILE_EXAMPLES // 4)


def hostile(backend: str) -> Any:
    return settings(
        max_examples=examples(backend),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module", autouse=True)
def tally() -> Iterator[None]:
    yield

    def total(outcome: str) -> int:
        return sum(v for k, v in TALLY.items() if k.endswith(f":{outcome}"))

    print(f"\nhostile inputs: {total('tried')} cases tried ({total('succeeded')} succeeded, "
          f"{total('refused')} refused with a typed error), {total('bad')} bad outcomes; "
          f"by entry point: {dict(sorted(TALLY.items()))}")


# -- strategies -----------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udc80", "\ud83d"])
SPECIAL = st.sampled_from([
    "", " ", "\t", "\x00", "a\nb", "{u:victim}", "}", "{", "*", "?", "[a-z]", "\\", ":",
    "%7B", "%", "..", "/", "victim}:item:x", "syntha:{u:victim}:item:k", "~", "é", "日本",
    "\U0001F600", "\u202e", "\ufeff", "a" * 33, "k" * 65, "x" * 5000, "0-0", "$", "-1",
])
TEXT = st.text(max_size=12)
NAME_TEXT = st.one_of(
    TEXT, SPECIAL, SURROGATES,
    st.builds(lambda a, s, b: a + s + b, TEXT, SURROGATES, TEXT),
    st.builds(lambda a, s: a + s, TEXT, SPECIAL),
)
NON_STRINGS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.binary(max_size=8),
    st.lists(TEXT, max_size=2), st.dictionaries(TEXT, TEXT, max_size=2), st.just(object()),
)
# names a careful caller would use, so that cases also get past validation
PLAIN = st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)
NAMES = st.one_of(PLAIN, PLAIN, NAME_TEXT, NAME_TEXT, NON_STRINGS).filter(
    lambda n: not (isinstance(n, str) and n in RESERVED)
)
NAME_LISTS = st.one_of(
    st.none(), st.lists(NAMES, max_size=6), st.lists(PLAIN, max_size=3), NAMES,
    st.sets(TEXT, max_size=3),
    st.builds(lambda n: [[n]], NAMES),
)


def deep(levels: int, leaf: Any = 1, container: str = "list") -> Any:
    value = leaf
    for _ in range(levels):
        value = [value] if container == "list" else {"k": value}
    return value


def cycle() -> Any:
    value: list[Any] = []
    value.append(value)
    return value


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), NAME_TEXT,
    st.binary(max_size=16),
)
VALUES = st.one_of(
    st.recursive(JSON_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(NAME_TEXT, inner, max_size=4)),
        max_leaves=20),
    st.builds(deep, st.sampled_from([10, 499, 500, 501, 1000, 1025, 5000]),
              st.just(1), st.sampled_from(["list", "dict"])),
    st.builds(cycle),
    st.just("x" * 30_000),
    st.sets(st.integers(), max_size=3),
    st.just(object()),
    st.dictionaries(st.integers(), st.integers(), max_size=2),
    st.sampled_from(["[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000,
                     '"\\ud800"', '{"k": "\\udfff"}', "not json {"]),
)
TTLS = st.one_of(st.none(), st.floats(), st.integers(-5, 10**12), TEXT, st.booleans())
VERSIONS = st.one_of(st.none(), st.integers(-3, 2**64), st.floats(), TEXT, st.booleans())
SINCE = st.one_of(st.none(), NAMES, st.just("0"), st.just("0-0"),
                  st.just("99999999999999-0"), st.just("1-2-3"))


def _call(method: str, *args: Any, **kwargs: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return method, args, kwargs


MESH_CALLS = st.one_of(
    st.builds(lambda k, v, s, t, ttl, a, ev: _call(
        "push", k, v, s, t, ttl, agent_name=a, expected_version=ev),
        NAMES, VALUES, NAME_LISTS, NAME_LISTS, TTLS, st.one_of(st.none(), NAMES), VERSIONS),
    st.builds(lambda items: _call("push_many", items), st.one_of(
        st.lists(st.fixed_dictionaries({"key": NAMES, "value": VALUES},
                                       optional={"topics": NAME_LISTS, "ttl": TTLS,
                                                 "expected_version": VERSIONS}), max_size=7),
        st.lists(st.dictionaries(NAME_TEXT, VALUES, max_size=3), max_size=3),
        NON_STRINGS, NAME_TEXT)),
    st.builds(lambda kw: _call("push", **kw),
              st.dictionaries(st.sampled_from(["foo", "key", "value", "ttl", "user_id"]),
                              VALUES, max_size=3)),
    st.builds(lambda k, a: _call("get", k, a), NAMES, st.one_of(st.none(), NAMES)),
    st.builds(lambda k, a: _call("get_item", k, a), NAMES, st.one_of(st.none(), NAMES)),
    st.builds(lambda ks, a: _call("get_many", ks, a), NAME_LISTS, st.one_of(st.none(), NAMES)),
    st.builds(lambda a: _call("get_all_for_agent", a), NAMES),
    st.builds(lambda a: _call("get_visible_items", a), NAMES),
    st.builds(lambda a: _call("get_keys_for_agent", a), NAMES),
    st.builds(lambda a: _call("get_available_keys_by_topic", a), NAMES),
    st.builds(lambda k: _call("remove", k), NAMES),
    st.builds(lambda a, t: _call("register_agent_topics", a, t), NAMES, NAME_LISTS),
    st.builds(lambda a, t: _call("subscribe_to_topics", a, t), NAMES, NAME_LISTS),
    st.builds(lambda a, t: _call("unsubscribe_from_topics", a, t), NAMES, NAME_LISTS),
    st.builds(lambda a: _call("get_topics_for_agent", a), NAMES),
    st.builds(lambda t: _call("get_subscribers_for_topic", t), NAMES),
    st.builds(lambda t: _call("delete_topic", t), NAMES),
    st.builds(lambda t: _call("delete_topic_report", t), NAMES),
    st.builds(lambda a, t: _call("set_agent_post_permissions", a, t), NAMES, NAME_LISTS),
    st.builds(lambda a: _call("get_agent_post_permissions", a), NAMES),
    st.builds(lambda a, t: _call("can_agent_post_to_topic", a, t), NAMES, NAMES),
    # timeouts: hostile, but never a long wait (None would watch forever)
    st.builds(lambda a, s, t: _call("watch", a, s, t), NAMES, SINCE,
              st.one_of(st.just(0), st.floats(max_value=0.01), TEXT, st.booleans(),
                        st.lists(st.integers(), max_size=2))),
)

TOOL_PARAMETERS = sorted({p for s in get_all_tool_schemas() for p in s["parameters"]["properties"]})
ARGUMENT_VALUES = st.one_of(NAMES, NAME_LISTS, VALUES, st.booleans(), st.floats(), TTLS)
TOOL_ARGUMENTS = st.dictionaries(
    st.one_of(st.sampled_from(TOOL_PARAMETERS), st.sampled_from(
        ["agent_name", "user_id", "sender_agent", "\ud800", "", "__class__"])),
    ARGUMENT_VALUES, max_size=5,
)
TOOL_NAMES_DRAWN = st.one_of(st.sampled_from(TOOL_NAMES), st.sampled_from(TOOL_NAMES),
                             NAMES, st.just("syntha_get_context"))
BY_TYPE = {
    "string": st.one_of(PLAIN, PLAIN, NAMES),
    "array": st.one_of(st.lists(PLAIN, max_size=3), NAME_LISTS),
    "boolean": st.one_of(st.booleans(), st.booleans(), ARGUMENT_VALUES),
    "number": st.one_of(st.floats(), st.integers(-5, 10**6), TTLS),
    "integer": st.one_of(st.integers(-3, 2**64), VERSIONS),
}


PUSHED_VALUES = st.one_of(VALUES, NAME_TEXT)


def schema_call(schema: dict[str, Any], by_type: dict[str, Any] = BY_TYPE,
                values: Any = PUSHED_VALUES, names: Any = NAMES) -> Any:
    """A call of one tool shaped by its schema (required arguments present, types
    mostly right, contents hostile), with now and then an argument it does not take."""
    properties = schema["parameters"]["properties"]
    required = set(schema["parameters"]["required"])

    def drawn(name: str) -> Any:
        if (schema["name"], name) == ("push_context", "value"):
            return values
        return by_type[properties[name]["type"]]

    extra = st.dictionaries(st.sampled_from(["agent_name", "user_id", "verbose"]), names,
                            max_size=1)
    return st.tuples(st.just(schema["name"]), st.builds(
        lambda given, more: {**given, **more},
        st.fixed_dictionaries({n: drawn(n) for n in properties if n in required},
                              optional={n: drawn(n) for n in properties if n not in required}),
        st.one_of(st.just({}), st.just({}), extra)))


TOOL_CALLS = st.one_of(
    *[schema_call(schema) for schema in get_all_tool_schemas()],
    st.tuples(TOOL_NAMES_DRAWN, TOOL_ARGUMENTS),
)


# -- the world each case runs in ----------------------------------------------------------


class World:
    """A victim user's mesh and an attacker's, in one test prefix, with fingerprints of
    everything a hostile call must not change."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self.options: dict[str, Any] = {"redis_url": redis_url, "key_prefix": prefix, **LIMITS}
        self.victim = ContextMesh(user_id=VICTIM, **self.options)
        self.attacker = ContextMesh(user_id=ATTACKER, **self.options)
        self.raw = raw_client(redis_url)
        for mesh in (self.victim, self.attacker):
            mesh.register_agent_topics(BYSTANDER_AGENT, [BYSTANDER_TOPIC])
            mesh.set_agent_post_permissions(BYSTANDER_AGENT, [BYSTANDER_TOPIC])
            mesh.push(BYSTANDER_KEY, {"kept": True}, topics=[BYSTANDER_TOPIC])
        self.victim.push("secret", "victim's", subscribers=[BYSTANDER_AGENT], ttl=3600)
        self.before = self.fingerprint()

    def victim_keyspace(self) -> dict[bytes, bytes]:
        root = f"{self.prefix}:{{u:{VICTIM}}}:"
        # retry records (op:*) expire by design operation_ttl_seconds after a write
        return {k: self.raw.dump(k) for k in sorted(self.raw.scan_iter(match=root + "*"))
                if not k.startswith(f"{root}op:".encode())}

    def fingerprint(self) -> tuple[Any, ...]:
        item = self.attacker.get_item(BYSTANDER_KEY)
        return (
            self.victim_keyspace(),
            None if item is None else (item.value, item.version, item.topics),
            self.attacker.get_topics_for_agent(BYSTANDER_AGENT),
            self.attacker.get_agent_post_permissions(BYSTANDER_AGENT),
        )

    def unchanged(self) -> bool:
        return self.fingerprint() == self.before

    def close(self) -> None:
        self.victim.close()
        self.attacker.close()


@pytest.fixture
def world(redis_url: str | None, key_prefix: str) -> Iterator[World]:
    made = World(redis_url, key_prefix)
    yield made
    made.close()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[EventLoopThread]:
    runner = EventLoopThread()
    yield runner
    runner.stop()


def judge(entry: str, world: World, outcome: Callable[[], bool | str]) -> None:
    """Run one case: count it, and fail the test on a bad outcome (with the reason).

    ``outcome`` returns True (a good result) or "refused" (a well-formed refusal);
    anything else it returns is a bad outcome, as is an exception other than a
    SynthaError."""
    TALLY[f"{entry}:tried"] += 1
    try:
        ok = outcome()
        problem = None if ok is True or ok == "refused" else f"bad result {ok!r:.300}"
        TALLY[f"{entry}:{'refused' if ok == 'refused' else 'succeeded'}"] += 1
    except Exception as e:  # anything but a SynthaError is a bad outcome
        problem = None if isinstance(e, SynthaError) else f"{type(e).__name__}: {e!r:.300}"
        TALLY[f"{entry}:refused"] += problem is None
    if problem is None and not world.unchanged():
        problem = "another user's keyspace or the caller's other keys changed"
    if problem is not None:
        TALLY[f"{entry}:bad"] += 1
        pytest.fail(f"{entry}: {problem}")


def good_tool_result(result: Any) -> bool | str:
    """True for a success, "refused" for a well-formed failure; asserts the rest."""
    assert isinstance(result, dict) and isinstance(result.get("success"), bool), result
    json.dumps(result, ensure_ascii=False, default=str).encode("utf-8")
    if result["success"]:
        return True
    error, suggestion = result.get("error"), result.get("suggestion")
    assert isinstance(error, str) and error and isinstance(suggestion, str) and suggestion
    assert "Internal error" not in error, error
    return "refused"


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or "RecursionError" in r.getMessage()]
    assert not bad, bad[0].getMessage()


# -- entry points ------------------------------------------------------------------------


def run_mesh_call(mesh: Any, call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> bool:
    """True when the call returned what its method promises (a typed error otherwise)."""
    method, args, kwargs = call
    result = getattr(mesh, method)(*args, **kwargs)
    if method == "watch":
        with result as feed:
            return all(isinstance(event, ChangeEvent) for event in feed)
    return well_typed(mesh, method, result)


def well_typed(mesh: Any, method: str, result: Any) -> bool:
    """Does ``result`` match the return annotation of ``mesh.method``?"""
    hint = typing.get_type_hints(getattr(type(mesh), method)).get("return", Any)
    return matches(result, hint)


def matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin in (list, tuple, set, frozenset):
        return isinstance(value, origin)
    if origin is dict or origin is collections.abc.Mapping:
        return isinstance(value, dict)
    if origin is not None:  # other generics (iterators, awaitables): the origin's type
        return isinstance(value, origin) if isinstance(origin, type) else True
    return isinstance(value, hint) if isinstance(hint, type) else True


def test_the_sync_mesh(world: World, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    @hostile(backend)
    @given(call=MESH_CALLS)
    def case(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
        judge("mesh", world, lambda: run_mesh_call(world.attacker, call))

    with caplog.at_level(logging.WARNING):
        case()
    no_tracebacks(caplog)


def test_the_async_mesh(world: World, backend: str, loop_thread: EventLoopThread) -> None:
    async def make() -> AsyncContextMesh:
        return AsyncContextMesh(user_id=ATTACKER, **world.options)

    mesh = loop_thread.run(make())

    async def run(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> bool:
        method, args, kwargs = call
        result = getattr(mesh, method)(*args, **kwargs)
        if method == "watch":
            async with result as feed:
                return all([isinstance(event, ChangeEvent) async for event in feed])
        if asyncio.iscoroutine(result):
            result = await result
        return well_typed(mesh, method, result)

    @hostile(backend)
    @given(call=MESH_CALLS)
    def case(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
        judge("async mesh", world, lambda: loop_thread.run(run(call)))

    try:
        case()
    finally:
        loop_thread.run(mesh.close())


@pytest.mark.filterwarnings("ignore:ContextMesh has no user_id")
@pytest.mark.parametrize("user_id", [None, "other"], ids=["no user", "another user"])
def test_mesh_construction(world: World, backend: str, user_id: str | None) -> None:
    @hostile(backend)
    @given(name=NAMES, prefix=st.one_of(st.none(), NAMES), url=st.one_of(
        st.none(), st.sampled_from(["ftp://x", "redis://h:notaport", "redis://[::1", "", "x"])))
    def case(name: Any, prefix: Any, url: Any) -> None:
        def attempt() -> bool:
            options = dict(world.options)
            if prefix is not None:
                options["key_prefix"] = prefix
            if url is not None:
                options["redis_url"] = url
            with ContextMesh(user_id=name if user_id is None else user_id,
                             **options) as mesh:
                mesh.push("k", 1)
                return mesh.get_all_for_agent("a") == {"k": 1}

        judge("construction", world, attempt)

    case()


def test_the_tool_handler(world: World, backend: str, caplog: pytest.LogCaptureFixture) -> None:
    @hostile(backend)
    @given(call=TOOL_CALLS, agent=st.one_of(st.just("Alice"), NAMES))
    def case(call: tuple[Any, dict[str, Any]], agent: Any) -> None:
        tool, arguments = call
        handler = ToolHandler(world.attacker, agent_name=agent)
        handler.set_agent_role("admin")
        judge("tools", world, lambda: good_tool_result(handler.handle_tool_call(tool, **arguments)))

    with caplog.at_level(logging.WARNING):
        case()
    no_tracebacks(caplog)


def test_the_async_tool_handler(world: World, backend: str,
                                loop_thread: EventLoopThread) -> None:
    async def make() -> AsyncContextMesh:
        return AsyncContextMesh(user_id=ATTACKER, **world.options)

    mesh = loop_thread.run(make())

    @hostile(backend)
    @given(call=TOOL_CALLS)
    def case(call: tuple[Any, dict[str, Any]]) -> None:
        tool, arguments = call
        handler = AsyncToolHandler(mesh, agent_name="Alice")
        judge("async tools", world, lambda: good_tool_result(
            loop_thread.run(handler.handle_tool_call(tool, **arguments))))

    try:
        case()
    finally:
        loop_thread.run(mesh.close())


CLI_STRINGS = st.one_of(PLAIN, NAME_TEXT).filter(lambda s: s not in RESERVED)


def test_the_cli(world: World, backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--key-prefix", world.prefix]
    if world.redis_url:
        common += ["--redis-url", world.redis_url]

    commands = st.one_of(
        st.builds(lambda k, a: ["get", k, "--agent", a], CLI_STRINGS, CLI_STRINGS),
        st.builds(lambda k: ["get", k], CLI_STRINGS),
        st.builds(lambda a: ["list", "--agent", a], CLI_STRINGS),
        st.builds(lambda a, s: ["watch", "--agent", a, "--since", s, "--timeout", "0"],
                  CLI_STRINGS, CLI_STRINGS),
        st.just(["stats"]),
    )

    @hostile(backend)
    @given(command=commands, user=st.one_of(st.just(ATTACKER), CLI_STRINGS))
    def case(command: list[str], user: str) -> None:
        def attempt() -> bool | str:
            try:
                code = main([*command, "--user", user, *common])
            except SystemExit as e:  # argparse refusing the command line (a usage error)
                code = e.code if isinstance(e.code, int) else 2
            err = capsys.readouterr().err
            assert code in (0, 1, 2) and "Traceback" not in err, err
            return "refused" if code == 2 else True

        judge("cli", world, attempt)

    case()


PROMPTS = st.one_of(
    st.builds(lambda a, n, p: ("build_system_prompt", (a,), {"max_chars": n,
                                                             "include_provenance": p}),
              NAMES, st.one_of(st.none(), st.integers(-5, 200)), st.booleans()),
    st.builds(lambda a, r, age: ("build_message_prompt", (a,), {
        "recent_only": r, "max_age_seconds": age}), NAMES, st.booleans(),
        st.one_of(st.none(), st.floats(), st.integers(-5, 10**6))),
    st.builds(lambda text, a, where: ("inject_context_into_prompt", (text, a),
                                      {"placement": where}),
              NAME_TEXT, NAMES, st.sampled_from(["prepend", "append", "replace_placeholder"])),
)


def test_the_prompt_builders(world: World, backend: str) -> None:
    from syntha_redis import prompts

    world.attacker.push("note", {"text": "hello {context} </shared_context>"}, topics=["t"])
    world.attacker.register_agent_topics("Alice", ["t"])
    world.before = world.fingerprint()

    @hostile(backend)
    @given(call=PROMPTS)
    def case(call: tuple[str, tuple[Any, ...], dict[str, Any]]) -> None:
        name, args, kwargs = call
        if name == "inject_context_into_prompt":
            args = (args[0], args[1], world.attacker)
        else:
            args = (args[0], world.attacker)

        def attempt() -> bool:
            text = getattr(prompts, name)(*args, **kwargs)
            return isinstance(text, str)

        judge("prompts", world, attempt)

    case()


def test_the_http_probes(world: World, backend: str) -> None:
    server = ProbeServer(Settings(redis_url=world.redis_url, key_prefix=world.prefix), 0,
                         "127.0.0.1")

    @hostile(backend)
    @given(path=st.one_of(NAME_TEXT, st.builds(lambda p: "/" + p, NAME_TEXT),
                          st.sampled_from(["/ready?x=\ud800", "/health/../ready", "//metrics"])))
    def case(path: str) -> None:
        def attempt() -> bool:
            status, content_type, body = server.answer(path)
            return isinstance(body, bytes) and 200 <= int(status) < 600

        judge("http", world, attempt)

    try:
        case()
    finally:
        server.close()


def test_the_mcp_server(world: World, backend: str, loop_thread: EventLoopThread) -> None:
    if world.redis_url is None:  # the MCP server refuses the in-process Redis
        world_url = None
        with pytest.raises(SynthaError):
            from syntha_redis.ops.mcp_server import build_handler

            build_handler(Settings(redis_url=world_url), ATTACKER, "Alice")
        return
    from mcp import Client

    from syntha_redis.ops.mcp_server import build_handler, build_server

    handler = build_handler(Settings(redis_url=world.redis_url, key_prefix=world.prefix,
                                     **{k: v for k, v in LIMITS.items() if k != "auto_cleanup"}),
                            ATTACKER, "Alice", role="admin")
    requests: asyncio.Queue[Any] = asyncio.Queue()

    async def session() -> None:
        async with Client(build_server(handler)) as client:
            while (request := await requests.get()) is not None:
                name, arguments, answer = request
                try:
                    answer.set_result(await client.call_tool(name, arguments))
                except Exception as e:
                    answer.set_exception(e)

    async def start() -> concurrent.futures.Future[None]:
        return asyncio.run_coroutine_threadsafe(session(), asyncio.get_running_loop())

    running = loop_thread.run(start())
    # JSON carries no lone surrogate from the client, but a JSON escape of one inside a
    # value reaches the server: VALUES draws those ('"\\ud800"')
    json_names = st.one_of(TEXT, SPECIAL)

    def mcp_call(name: str, arguments: dict[str, Any]) -> bool | str:
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        loop_thread.loop.call_soon_threadsafe(requests.put_nowait, (name, arguments, answer))
        result = answer.result(timeout=60)
        (content,) = result.content
        return good_tool_result(json.loads(content.text))

    json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60),
                                         st.floats(allow_nan=False, allow_infinity=False),
                                         json_names),
                               lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(TEXT, inner, max_size=3)),
                               max_leaves=10)
    hostile_text = st.sampled_from(['"\\ud800"', "[" * 5000 + "]" * 5000])
    arguments = st.dictionaries(st.one_of(st.sampled_from(TOOL_PARAMETERS), json_names),
                                st.one_of(json_values, hostile_text), max_size=5)
    json_strings = st.one_of(PLAIN, PLAIN, json_names)
    json_types = {
        "string": json_strings,
        "array": st.one_of(st.lists(json_strings, max_size=3), json_values),
        "boolean": st.one_of(st.booleans(), json_values),
        "number": st.one_of(st.integers(-5, 10**6), json_values),
        "integer": st.one_of(st.integers(-3, 2**60), json_values),
    }
    calls = st.one_of(
        *[schema_call(schema, json_types, st.one_of(json_values, hostile_text), json_strings)
          for schema in get_all_tool_schemas()],
        st.tuples(st.one_of(st.sampled_from(TOOL_NAMES), json_names), arguments),
    )

    @hostile("redis")
    @given(call=calls)
    def case(call: tuple[str, dict[str, Any]]) -> None:
        judge("mcp", world, lambda: mcp_call(*call))

    try:
        case()
    finally:
        loop_thread.loop.call_soon_threadsafe(requests.put_nowait, None)
        running.result(timeout=30)
        loop_thread.run(handler.context_mesh.close())  # the MCP server's mesh is async

