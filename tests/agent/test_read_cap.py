"""The visible-items cap (``max_visible_items``): applied after ordering, never silent.

A read that finds more items than the cap returns the most recent ones, and
says so: the mesh API warns (``SynthaTruncationWarning``) and its results carry
``truncated`` / ``total_visible``; tool results carry both keys.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.exceptions import SynthaTruncationWarning
from syntha_redis.tools import ToolHandler


def filled(make: Callable[..., ContextMesh], cap: int, count: int) -> ContextMesh:
    mesh = make(max_visible_items=cap)
    mesh.push_many([{"key": f"k{i:03}", "value": i} for i in range(count)])
    return mesh


def keys(count: int, start: int = 0) -> list[str]:
    return [f"k{i:03}" for i in range(start, count)]


def test_a_cut_read_keeps_the_most_recent_items_in_order(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = filled(mesh_factory, cap=50, count=80)
    with pytest.warns(SynthaTruncationWarning, match="can see 80 items"):
        values = mesh.get_all_for_agent("Alice")
    assert isinstance(values, dict)
    assert list(values) == keys(80, start=30)
    assert values.truncated and values.total_visible == 80  # type: ignore[attr-defined]


def test_a_read_within_the_cap_is_not_flagged_and_does_not_warn(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = filled(mesh_factory, cap=50, count=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthaTruncationWarning)
        values = mesh.get_all_for_agent("Alice")
        items = mesh.get_visible_items("Alice")
    assert list(values) == keys(50)
    assert not values.truncated and values.total_visible == 50  # type: ignore[attr-defined]
    assert not items.truncated and items.total_visible == 50  # type: ignore[attr-defined]


def test_every_mesh_read_of_the_visible_set_flags_the_cut(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = filled(mesh_factory, cap=5, count=8)
    with pytest.warns(SynthaTruncationWarning):
        items = mesh.get_visible_items("Alice")
    with pytest.warns(SynthaTruncationWarning):
        names = mesh.get_keys_for_agent("Alice")
    with pytest.warns(SynthaTruncationWarning):
        by_topic = mesh.get_available_keys_by_topic("Alice")
    assert [i.key for i in items] == names == by_topic["other"] == keys(8, start=3)
    assert items.truncated and items.total_visible == 8  # type: ignore[attr-defined]
    assert names.truncated and names.total_visible == 8  # type: ignore[attr-defined]


def test_the_cap_keeps_the_newest_when_it_is_far_below_the_visible_count(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    # the script compacts its rows every 2 x cap items: many rounds here
    mesh = filled(mesh_factory, cap=3, count=40)
    with pytest.warns(SynthaTruncationWarning):
        assert mesh.get_keys_for_agent("Alice") == keys(40, start=37)


def test_the_total_counts_only_items_the_agent_may_see(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(max_visible_items=4)
    mesh.register_agent_topics("Alice", ["sales"])
    for i in range(6):
        mesh.push(f"hidden{i}", i, topics=["hr"])
        mesh.push(f"mine{i}", i, topics=["sales"])
    with pytest.warns(SynthaTruncationWarning):
        items = mesh.get_visible_items("Alice")
    assert [i.key for i in items] == [f"mine{i}" for i in range(2, 6)]
    assert items.total_visible == 6  # type: ignore[attr-defined]


def test_an_updated_item_counts_as_recent(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = filled(mesh_factory, cap=3, count=6)
    mesh.push("k000", "rewritten")
    with pytest.warns(SynthaTruncationWarning):
        assert list(mesh.get_all_for_agent("Alice")) == ["k004", "k005", "k000"]


def test_items_written_in_the_same_millisecond_keep_write_order(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    # one batch is one script call: every item has the same created time
    mesh = mesh_factory(max_visible_items=2)
    mesh.push_many([{"key": k, "value": 1} for k in ["z", "y", "b", "a"]])
    with pytest.warns(SynthaTruncationWarning):
        assert mesh.get_keys_for_agent("Alice") == ["b", "a"]


def test_get_context_reports_the_cut(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = filled(mesh_factory, cap=50, count=80)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthaTruncationWarning)  # tools flag, not warn
        result = ToolHandler(mesh, "Alice").handle_tool_call("get_context")
    assert result["success"] is True
    assert result["truncated"] is True and result["total_visible"] == 80
    assert list(result["context"]) == keys(80, start=30)
    assert "50 most recent of 80" in result["message"]


def test_list_context_reports_the_cut(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = filled(mesh_factory, cap=50, count=80)
    result = ToolHandler(mesh, "Alice").handle_tool_call("list_context")
    assert result["truncated"] is True and result["total_visible"] == 80
    assert result["all_accessible_keys"] == keys(80, start=30)
    assert result["total_keys"] == 50


def test_uncut_tool_results_say_so(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = filled(mesh_factory, cap=50, count=3)
    alice = ToolHandler(mesh, "Alice")
    for result in (alice.handle_tool_call("get_context"), alice.handle_tool_call("list_context")):
        assert result["truncated"] is False and result["total_visible"] == 3
    by_key = alice.handle_tool_call("get_context", keys=["k000", "missing"])
    assert by_key["truncated"] is False and by_key["total_visible"] == 1


async def test_the_async_mesh_flags_and_warns_the_same(
    redis_url: str | None, key_prefix: str
) -> None:
    async with AsyncContextMesh(
        user_id="u", redis_url=redis_url, key_prefix=key_prefix, max_visible_items=2
    ) as mesh:
        await mesh.push_many([{"key": f"k{i:03}", "value": i} for i in range(5)])
        with pytest.warns(SynthaTruncationWarning):
            values = await mesh.get_all_for_agent("Alice")
        assert list(values) == ["k003", "k004"]
        assert values.truncated and values.total_visible == 5  # type: ignore[attr-defined]
