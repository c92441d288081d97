"""A tenant's calls have a bounded cost and cannot get around the deployment's limits.

Each test is one attack of issue 17 (a hostile tenant): raw script calls with
arguments no client of this version sends, values that would not read back,
stored items corrupted by raw commands, and chunked calls over many items
(kept small here; benchmarks/bench_heavy_calls.py measures 200k).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgpack
import pytest

from syntha_redis import AsyncContextMesh, ContextMesh, SynthaValidationError
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.core import keys
from syntha_redis.core.calls import Operation, ScriptCall
from syntha_redis.core.codec import MAX_ELEMENTS, CorruptItem
from syntha_redis.core.config import Settings
from syntha_redis.core.operations import CLEAR_CHUNK
from syntha_redis.core.topic_operations import DELETE_TOPIC_CHUNK
from syntha_redis.prompts import build_system_prompt
from syntha_redis.tools import ToolHandler


def _push_args(mesh: ContextMesh, tok: str = "k", value: bytes = b"\x01", topics: str = "",
               subs: str = "", ttl: object = 0, head: dict[int, object] | None = None
               ) -> tuple[Any, ...]:
    """push.lua's ARGV as a raw caller would send them, with head fields replaced."""
    first = list(mesh.operations._head())
    for i, v in (head or {}).items():
        first[i] = v
    return (*first, tok, value, "", topics, subs, ttl, "")


def _script(mesh: ContextMesh, name: str, *args: Any) -> Any:
    """A script called with these exact ARGV, through the mesh's store (its refusals
    arrive as typed errors)."""
    def operation() -> Operation[Any]:
        return (yield ScriptCall(name, mesh.operations.keys.root, args))
    return mesh.run(operation())


def _raw_push(mesh: ContextMesh, *args: Any) -> Any:
    return _script(mesh, "push", *args)


def _fill(mesh: ContextMesh, items: list[dict[str, Any]]) -> None:
    """push_many in batches of the most one call takes."""
    step = mesh.settings.max_batch_items
    for start in range(0, len(items), step):
        mesh.push_many(items[start:start + step])


def _nest(depth: int) -> list[Any]:
    deep: list[Any] = []
    cur = deep
    for _ in range(depth):
        cur.append([])
        cur = cur[0]
    return deep


def _events(raw: Any, mesh: ContextMesh) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in raw.xrange(mesh.operations.keys.root + keys.STREAM)]


# -- every call has a bounded cost --------------------------------------------------------


def test_delete_topic_works_in_chunks_with_an_event_per_item_and_topic_deleted_last(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory()
    n = 2 * DELETE_TOPIC_CHUNK + 10
    mesh.push_many([{"key": f"k{i}", "value": i, "topics": ["t"]} for i in range(n)])
    mesh.push("both", 1, topics=["t", "u"])
    mesh.subscribe_to_topics("agent", ["t", "u"])
    raw.xtrim(mesh.operations.keys.root + keys.STREAM, maxlen=0)
    result = mesh.delete_topic_report("t")
    assert (result.existed, result.items_deleted, result.subscribers_affected) == (True, n, 1)
    events = _events(raw, mesh)
    kinds = [e[b"type"] for e in events]
    assert kinds.count(b"deleted") == n and kinds.count(b"updated") == 1
    assert kinds[-1] == b"topic_deleted" and events[-1][b"count"] == str(n).encode()
    versions = [int(e[b"ver"]) for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert mesh.get_topics_for_agent("agent") == ["u"] and mesh.size() == 1


def test_a_raw_delete_topic_asking_for_every_item_at_once_gets_one_chunk_and_a_retry_finishes(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory()
    n = DELETE_TOPIC_CHUNK + 50
    mesh.push_many([{"key": f"k{i}", "value": i, "topics": ["t"]} for i in range(n)])
    mesh.push("seed", 1)
    ops = mesh.operations
    reply = _script(mesh, "delete_topic", *ops._head(), "t", 10**9, 0)
    assert reply[0] == 0 and reply[2] == DELETE_TOPIC_CHUNK  # cut short, as a crash would
    assert mesh.size() == 51
    # calling again continues from what is left
    assert mesh.delete_topic("t") == 50
    assert mesh.size() == 1 and mesh.get("seed") == 1


def test_clear_and_cleanup_hold_a_raw_caller_to_bounded_chunks(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(prune_batch=7, auto_cleanup=False)
    mesh.push_many([{"key": f"k{i}", "value": i, "ttl": 0.001} for i in range(30)])
    ops = mesh.operations
    root = ops.keys.root
    asyncio.run(asyncio.sleep(0.05))
    head = list(ops._head())
    head[5] = 10**9  # prune batch
    pruned, remaining = _script(mesh, "cleanup", *head)
    assert pruned == 7 and remaining == 23  # the deployment's prune batch, not 10^9
    mesh.push_many([{"key": f"c{i}", "value": i} for i in range(CLEAR_CHUNK + 100)])
    left, deleted, _ = _script(mesh, "clear", *ops._head(), 10**9)
    assert deleted == CLEAR_CHUNK and left > 0
    mesh.clear()
    assert mesh.size() == 0 and raw.exists(root + "exp") == 0


def test_a_chunked_visible_read_counts_each_item_once_and_keeps_the_newest(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(max_visible_items=50)
    # addressed to the agent and on both its topics: still one item each
    _fill(mesh, [{"key": f"k{i:04}", "value": i, "topics": ["a", "b"],
                     "subscribers": ["agent"]} for i in range(700)])
    _fill(mesh, [{"key": f"g{i:04}", "value": i} for i in range(600)])
    mesh.subscribe_to_topics("agent", ["a", "b"])
    with pytest.warns(UserWarning):
        got = mesh.get_all_for_agent("agent")
    assert got.total_visible == 1300 and got.truncated and len(got) == 50
    assert list(got) == [f"g{i:04}" for i in range(550, 600)]  # the newest, oldest first


def test_one_visible_call_scans_a_bounded_chunk_whatever_the_caller_asks(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory()
    _fill(mesh, [{"key": f"k{i}", "value": i} for i in range(1000)])
    reply = _script(mesh, "visible", "agent", "", "kv", "")
    # flat 'kv' rows of 3 elements (sort key, token, value) after the 3 head elements
    assert reply[1] != b"" and 0 < reply[2] == (len(reply) - 3) // 3 <= 600
    with pytest.raises(SynthaValidationError):
        _script(mesh, "visible", "agent", "x:y", "kv", "")  # not a cursor it gave


# -- scripts check every argument against the deployment's limits ------------------------


def test_long_topic_tokens_are_refused_and_routing_counts_against_the_byte_quota(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(max_bytes_per_user=10_000, max_items_per_user=0)
    mesh.push("seed", 1)
    topics = ",".join(f"{i:04}" + "t" * 9_996 for i in range(256))
    for i in range(3):
        with pytest.raises(SynthaValidationError) as refused:
            _raw_push(mesh, *_push_args(mesh, tok=f"k{i}", topics=topics))
        assert refused.value.field == "topics"
    # within the name limit, the topics still count: 40 topics of 250 characters
    with pytest.raises(SynthaValidationError, match="quota"):
        mesh.push("wide", 1, topics=[f"{i:02}" + "t" * 248 for i in range(40)])
    assert mesh.size() == 1 and int(raw.get(mesh.operations.keys.root + "bytes")) < 10


@pytest.mark.parametrize(("field", "argument"), [
    ("ttl", {"ttl": "1e300"}), ("ttl", {"ttl": "abc"}), ("ttl", {"ttl": str(10**17)}),
    ("ttl", {"ttl": "-5"}), ("value", {"value": b"\xc1"}), ("value", {"value": b"\x01\x02"}),
    ("value", {"value": msgpack.packb({1: 2})}), ("value", {"value": b"\x91" * 600 + b"\x01"}),
    ("topics", {"topics": "\xff\xfe"}), ("topics", {"topics": "a,,b"}),
    ("key", {"tok": "a|b"}), ("stream_max_length", {"head": {1: "abc"}}),
    ("prune_batch", {"head": {5: 0}}), ("operation_ttl", {"head": {4: 10**15}}),
])
def test_a_raw_push_with_an_argument_the_deployment_refuses_gets_a_typed_error(
    mesh_factory: Callable[..., ContextMesh], field: str, argument: dict[str, Any]
) -> None:
    mesh = mesh_factory()
    mesh.push("seed", 1)
    with pytest.raises(SynthaValidationError) as refused:
        _raw_push(mesh, *_push_args(mesh, **argument))
    assert refused.value.field == field and refused.value.suggestion
    assert mesh.size() == 1


def test_a_raw_stream_cap_above_the_deployments_is_lowered_to_it(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(stream_max_length=10)
    mesh.push("seed", 1)
    for i in range(300):
        _raw_push(mesh, *_push_args(mesh, tok=f"k{i}", head={1: 10**12}))
    # MAXLEN ~ trims whole stream nodes (100 entries): far below 300 either way
    assert raw.xlen(mesh.operations.keys.root + keys.STREAM) <= 110


def test_a_raw_batch_over_the_cap_is_refused(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory()
    mesh.push("seed", 1)
    item = ("", b"\x01", "", "", "", 0, "")
    args = [*mesh.operations._head()]
    for i in range(1001):
        args += [f"k{i}", *item[1:]]
    with pytest.raises(SynthaValidationError) as refused:
        _script(mesh, "push_many", *args)
    assert refused.value.field == "items" and mesh.size() == 1


# -- values and reads ---------------------------------------------------------------------


def test_only_values_that_round_trip_are_accepted(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory()
    mesh.subscribe_to_topics("agent", ["t"])
    for value in ({(1, 2): "x"}, {"a": {3: 4}}, {b"k": 1}, list(range(MAX_ELEMENTS))):
        with pytest.raises(SynthaValidationError) as refused:
            mesh.push("p", value, topics=["t"])
        assert refused.value.field == "value" and refused.value.suggestion
    mesh.push("ok", {"a": (1, 2), "b": b"\x00", "c": [None, True, 1.5]}, topics=["t"])
    assert mesh.get_all_for_agent("agent") == {"ok": {"a": [1, 2], "b": b"\x00",
                                                      "c": [None, True, 1.5]}}


def test_a_corrupt_stored_item_fails_only_its_own_read(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory()
    mesh.subscribe_to_topics("agent", ["t"])
    for key in ("good", "bad-value", "bad-version"):
        mesh.push(key, {"k": key}, topics=["t"])
    root = mesh.operations.keys.root
    raw.hset(root + "item:bad-value", "value", b"\xc1")
    raw.hset(root + "item:bad-version", "version", "abc")
    with pytest.raises(CorruptItem):
        mesh.get("bad-value")
    values = mesh.get_all_for_agent("agent")
    assert values == {"good": {"k": "good"}, "bad-version": {"k": "bad-version"}}
    assert values.skipped == 1 and not values.truncated
    items = mesh.get_visible_items("agent")
    assert [i.key for i in items] == ["good"] and items.skipped == 2
    result = ToolHandler(mesh, "agent").handle_tool_call("get_context")
    assert result["success"] is True and "good" in result["context"]
    assert "good" in build_system_prompt("agent", mesh)


def test_a_topic_nested_1200_deep_is_a_typed_failure_sync_and_async(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str
) -> None:
    deep = _nest(1200)
    result = ToolHandler(mesh_factory(), "agent").handle_tool_call(
        "delete_topic", topic=deep, confirm=True)
    assert result["success"] is False and "nested" in result["error"]

    async def run() -> dict[str, Any]:
        async with AsyncContextMesh(user_id="u", redis_url=redis_url, key_prefix=key_prefix,
                                    auto_cleanup=False) as mesh:
            return await AsyncToolHandler(mesh, "agent").handle_tool_call(
                "delete_topic", topic=deep, confirm=True)

    result = asyncio.run(run())
    assert result["success"] is False and "nested" in result["error"]


# -- one answer for limits ----------------------------------------------------------------


def test_a_finite_item_quota_by_default() -> None:
    assert Settings().max_items_per_user == 100_000


def test_limits_show_writes_nothing_and_the_key_is_hash_tagged(
    redis_url: str | None, key_prefix: str, raw: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from syntha_redis.cli import main

    where = ["--key-prefix", key_prefix, *(["--redis-url", redis_url] if redis_url else [])]
    assert main(["limits", "show", *where]) == 0
    assert capsys.readouterr().out.strip() == "{}"
    assert list(raw.scan_iter(match=key_prefix + ":*")) == []
    assert keys.deployment_limits(key_prefix) == key_prefix + ":{limits}"


def test_an_older_deployments_limits_are_taken_over(
    mesh_factory: Callable[..., ContextMesh], raw: Any, key_prefix: str
) -> None:
    raw.hset(keys.old_deployment_limits(key_prefix), "max_items_per_user", 2)
    mesh = mesh_factory()
    mesh.push("a", 1)
    mesh.push("b", 2)
    with pytest.raises(SynthaValidationError, match="quota"):
        mesh.push("c", 3)
    assert raw.hget(keys.deployment_limits(key_prefix), "max_items_per_user") == b"2"
