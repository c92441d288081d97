"""push_many / get_many: one script call per user, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from syntha_redis import (
    ContextMesh,
    SynthaConflictError,
    SynthaPermissionError,
    SynthaQuotaError,
    SynthaValidationError,
)


def test_push_many_stores_every_item_and_returns_versions(mesh: ContextMesh) -> None:
    versions = mesh.push_many(
        [
            {"key": "a", "value": 1},
            {"key": "b", "value": {"x": 2}, "topics": ["t"], "agent_name": "w"},
            {"key": "c", "value": 3, "subscribers": ["z"], "ttl": 60},
        ]
    )
    assert versions == sorted(versions) and len(set(versions)) == 3
    item = mesh.get_item("b")
    assert item is not None and item.version == versions[1] and item.author == "w"
    assert mesh.get_many(["a", "b", "c"]) == {"a": 1, "b": {"x": 2}, "c": 3}


def test_one_conflicting_item_writes_nothing(mesh: ContextMesh) -> None:
    mesh.push("b", "old")
    before = mesh.get_stats()["version"]
    with pytest.raises(SynthaConflictError) as caught:
        mesh.push_many([{"key": "a", "value": 1}, {"key": "b", "value": 2, "expected_version": 0}])
    assert caught.value.current_value == "old"
    assert mesh.get("a") is None and mesh.get("b") == "old"
    assert mesh.get_stats()["version"] == before


def test_one_forbidden_topic_writes_nothing(mesh: ContextMesh) -> None:
    mesh.set_agent_post_permissions("w", ["ok"])
    with pytest.raises(SynthaPermissionError):
        mesh.push_many(
            [
                {"key": "a", "value": 1, "topics": ["ok"], "agent_name": "w"},
                {"key": "b", "value": 1, "topics": ["no"], "agent_name": "w"},
            ]
        )
    assert mesh.size() == 0


def test_a_batch_over_quota_writes_nothing(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_items_per_user=2)
    mesh.push("a", 1)
    with pytest.raises(SynthaQuotaError):
        mesh.push_many([{"key": "b", "value": 1}, {"key": "c", "value": 1}])
    assert mesh.size() == 1


@pytest.mark.parametrize(
    "items",
    [
        [{"key": "a", "value": 1}, {"key": "a", "value": 2}],
        [{"key": "a", "value": 1}, {"key": "   ", "value": 2}],
        [{"key": "a", "value": 1}, {"key": "b", "value": {1, 2}}],
        [{"key": "a", "value": 1}, {"key": "b", "value": 1, "colour": "red"}],
        [{"key": "a", "value": 1}, "b"],
    ],
)
def test_an_invalid_item_fails_the_whole_batch_before_any_write(
    mesh: ContextMesh, items: list[Any]
) -> None:
    with pytest.raises(SynthaValidationError):
        mesh.push_many(items)
    assert mesh.size() == 0 and mesh.get_stats()["version"] == 0


def test_batches_are_bounded(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_batch_items=2)
    with pytest.raises(SynthaValidationError):
        mesh.push_many([{"key": str(i), "value": i} for i in range(3)])
    with pytest.raises(SynthaValidationError):
        mesh.get_many(["1", "2", "3"])


def test_get_many_returns_only_what_the_agent_may_see(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["t"])
    mesh.push_many(
        [
            {"key": "topic", "value": 1, "topics": ["t"]},
            {"key": "private", "value": 2, "subscribers": ["b"]},
            {"key": "global", "value": 3},
        ]
    )
    assert mesh.get_many(["private", "topic", "missing", "global"], agent_name="a") == {
        "topic": 1,
        "global": 3,
    }
    assert list(mesh.get_many(["global", "topic"])) == ["global", "topic"]  # request order


def test_each_batch_item_is_one_change_event(mesh: ContextMesh) -> None:
    watch = mesh.watch("a", timeout=0)
    list(watch)
    versions = mesh.push_many([{"key": k, "value": 0} for k in "xyz"])
    events = list(mesh.watch("a", since=watch.cursor, timeout=0))
    assert [(e.key, e.version) for e in events] == list(zip("xyz", versions, strict=True))


def test_empty_batches_do_nothing(mesh: ContextMesh) -> None:
    assert mesh.push_many([]) == [] and mesh.get_many([]) == {}
