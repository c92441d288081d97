"""ContextMesh behaviour: the Syntha API with read-time routing, on every backend."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from syntha_redis import (
    ContextMesh,
    SynthaConflictError,
    SynthaPermissionError,
    SynthaValidationError,
)
from syntha_redis.snapshot import SqliteDB

# the mesh contract: every test here runs on ContextMesh and AsyncContextMesh
pytestmark = pytest.mark.both_meshes


def test_push_then_get_returns_the_value(mesh: ContextMesh) -> None:
    mesh.push("deal", {"amount": 100, "stage": "closed"})
    assert mesh.get("deal") == {"amount": 100, "stage": "closed"}


def test_get_of_a_missing_key_is_none(mesh: ContextMesh) -> None:
    assert mesh.get("nothing-here") is None
    assert mesh.get_item("nothing-here") is None


def test_push_returns_increasing_versions(mesh: ContextMesh) -> None:
    first = mesh.push("a", 1)
    second = mesh.push("a", 2)
    third = mesh.push("b", 3)
    assert first < second < third
    item = mesh.get_item("a")
    assert item is not None and item.version == second and item.value == 2


def test_get_item_carries_metadata(mesh: ContextMesh) -> None:
    before = time.time()
    mesh.push("plan", "ship", topics=["ops"], subscribers=["bob"], ttl=60, agent_name="alice")
    item = mesh.get_item("plan")
    assert item is not None
    assert item.author == "alice"
    assert item.topics == ["ops"] and item.subscribers == ["bob"]
    assert before - 1 <= item.created_at <= time.time() + 1
    assert item.expires_at is not None and 58 <= item.expires_at - item.created_at <= 60.5


def test_global_item_is_visible_to_every_agent(mesh: ContextMesh) -> None:
    mesh.push("motd", "hello")
    assert mesh.get("motd", "anyone") == "hello"
    assert mesh.get_all_for_agent("someone") == {"motd": "hello"}


def test_subscribers_only_see_items_addressed_to_them(mesh: ContextMesh) -> None:
    mesh.push("memo", "for bob", subscribers=["bob"])
    assert mesh.get("memo", "bob") == "for bob"
    assert mesh.get("memo", "eve") is None
    assert "memo" not in mesh.get_all_for_agent("eve")


def test_system_read_without_agent_sees_everything(mesh: ContextMesh) -> None:
    mesh.push("memo", "for bob", subscribers=["bob"])
    assert mesh.get("memo") == "for bob"


def test_late_subscriber_sees_earlier_items(mesh: ContextMesh) -> None:
    mesh.push("q3", "numbers", topics=["sales"])
    assert mesh.get("q3", "analyst") is None
    mesh.register_agent_topics("analyst", ["sales"])
    assert mesh.get("q3", "analyst") == "numbers"


def test_unsubscribing_revokes_access(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("analyst", ["sales"])
    mesh.push("q3", "numbers", topics=["sales"])
    assert mesh.unsubscribe_from_topics("analyst", ["sales", "never-followed"]) == ["sales"]
    assert mesh.get("q3", "analyst") is None
    assert mesh.get_topics_for_agent("analyst") == []


def test_item_on_a_topic_nobody_follows_waits_for_its_first_subscriber(
    mesh: ContextMesh,
) -> None:
    mesh.push("lead", "acme", topics=["nobody-yet"])
    assert mesh.get_all_for_agent("x") == {}
    mesh.register_agent_topics("x", ["nobody-yet"])
    assert mesh.get_all_for_agent("x") == {"lead": "acme"}


def test_register_agent_topics_replaces_the_previous_topics(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales", "ops"])
    mesh.register_agent_topics("a", ["ops", "hr"])
    assert mesh.get_topics_for_agent("a") == ["ops", "hr"]  # in the order given
    assert mesh.get_subscribers_for_topic("sales") == []
    assert mesh.get_all_topics() == ["hr", "ops"]


def test_an_agents_topics_come_back_in_subscription_order(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales", "marketing", "support"])
    mesh.subscribe_to_topics("a", ["analytics", "sales"])
    assert mesh.get_topics_for_agent("a") == ["sales", "marketing", "support", "analytics"]
    assert mesh.unsubscribe_from_topics("a", ["marketing"]) == ["marketing"]
    assert mesh.get_topics_for_agent("a") == ["sales", "support", "analytics"]


def test_subscribe_to_topics_adds_to_the_previous_topics(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales"])
    assert mesh.subscribe_to_topics("a", ["ops"]) == ["sales", "ops"]


def test_get_keys_for_agent_lists_visible_keys_oldest_first(mesh: ContextMesh) -> None:
    mesh.push("k1", 1)
    mesh.push("k2", 2, subscribers=["a"])
    mesh.push("k3", 3, subscribers=["b"])
    assert mesh.get_keys_for_agent("a") == ["k1", "k2"]


def test_available_keys_by_topic_groups_by_followed_topic(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales", "ops"])
    mesh.push("s", 1, topics=["sales"])
    mesh.push("so", 2, topics=["sales", "ops"])
    mesh.push("g", 3)
    assert mesh.get_available_keys_by_topic("a") == {
        "ops": ["so"],
        "sales": ["s", "so"],
        "other": ["g"],
    }


def test_ttl_expiry_hides_and_prunes_the_item(mesh: ContextMesh) -> None:
    mesh.push("short", "lived", ttl=0.15, topics=["t"])
    mesh.register_agent_topics("a", ["t"])
    assert mesh.get("short", "a") == "lived"
    time.sleep(0.3)
    assert mesh.get("short") is None
    assert mesh.get_all_for_agent("a") == {}
    assert mesh.cleanup_expired() == 1
    assert mesh.size() == 0


def test_expired_items_leave_no_index_entries(mesh: ContextMesh, raw: Any) -> None:
    mesh.register_agent_topics("a", ["t"])
    mesh.unsubscribe_from_topics("a", ["t"])
    mesh.push("short", "lived", ttl=0.1, topics=["t"], subscribers=["b"])
    time.sleep(0.2)
    mesh.cleanup_expired()
    root = mesh.operations.keys.root
    left = {n.decode()[len(root) :] for n in raw.scan_iter(match=root + "*")}
    bookkeeping = {"ver", "events", "bytes", "limits"}
    assert {name for name in left if not name.startswith("op:")} <= bookkeeping


def test_remove_deletes_and_reports_existence(mesh: ContextMesh) -> None:
    mesh.push("x", 1, topics=["t"])
    assert mesh.remove("x") is True
    assert mesh.remove("x") is False
    assert mesh.get("x") is None
    assert mesh.delete("x") is False


def test_clear_deletes_items_subscriptions_and_permissions(mesh: ContextMesh) -> None:
    mesh.push("a", 1)
    mesh.push("b", 2, topics=["t"])
    mesh.register_agent_topics("x", ["t"])
    mesh.set_agent_post_permissions("x", ["t"])
    mesh.clear()
    assert mesh.size() == 0
    assert mesh.get_all_topics() == []
    assert mesh.get_agent_post_permissions("x") == []


def test_stats_count_items_topics_and_agents(mesh: ContextMesh) -> None:
    mesh.push("g", 1)
    mesh.push("p", 2, subscribers=["a"])
    mesh.register_agent_topics("a", ["t1", "t2"])
    mesh.register_agent_topics("b", ["t2"])
    stats = mesh.get_stats()
    assert {k: stats[k] for k in (
        "total_items", "active_items", "expired_items", "global_items", "private_items",
        "total_topics", "agents_with_topics",
    )} == {
        "total_items": 2, "active_items": 2, "expired_items": 0, "global_items": 1,
        "private_items": 1, "total_topics": 2, "agents_with_topics": 2,
    }


def test_delete_topic_deletes_items_only_on_that_topic(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["sales", "ops"])
    mesh.push("only", 1, topics=["sales"])
    mesh.push("both", 2, topics=["sales", "ops"])
    report = mesh.delete_topic_report("sales")
    assert (report.existed, report.items_deleted, report.subscribers_affected) == (True, 1, 1)
    assert mesh.get("only") is None
    both = mesh.get_item("both")
    assert both is not None and both.topics == ["ops"]
    assert mesh.get_topics_for_agent("a") == ["ops"]
    assert mesh.delete_topic("sales") == 0


def test_post_permissions_are_enforced(mesh: ContextMesh) -> None:
    mesh.set_agent_post_permissions("writer", ["ops"])
    with pytest.raises(SynthaPermissionError) as info:
        mesh.push("x", 1, topics=["sales"], agent_name="writer")
    assert info.value.context["allowed_topics"] == ["ops"]
    assert mesh.get("x") is None
    mesh.push("y", 1, topics=["ops"], agent_name="writer")
    assert mesh.get("y") == 1


def test_empty_post_permissions_allow_any_topic(mesh: ContextMesh) -> None:
    mesh.set_agent_post_permissions("writer", [])
    assert mesh.can_agent_post_to_topic("writer", "anything")
    mesh.set_agent_post_permissions("writer", ["ops"])
    assert mesh.can_agent_post_to_topic("writer", "ops")
    assert not mesh.can_agent_post_to_topic("writer", "sales")
    assert mesh.get_agent_post_permissions("writer") == ["ops"]


def test_compare_and_set_refuses_a_stale_version(mesh: ContextMesh) -> None:
    v1 = mesh.push("counter", 1, expected_version=0)
    mesh.push("counter", 2, expected_version=v1)
    with pytest.raises(SynthaConflictError) as info:
        mesh.push("counter", 3, expected_version=v1)
    assert info.value.current_value == 2
    assert mesh.get("counter") == 2


def test_compare_and_set_zero_means_must_not_exist(mesh: ContextMesh) -> None:
    mesh.push("lock", "mine", expected_version=0)
    with pytest.raises(SynthaConflictError):
        mesh.push("lock", "theirs", expected_version=0)


def test_replacing_an_item_moves_its_routing(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("a", ["old"])
    mesh.push("k", 1, topics=["old"])
    mesh.push("k", 2, topics=["new"])
    assert mesh.get("k", "a") is None
    assert mesh.get_all_for_agent("a") == {}


def test_context_manager_closes_the_mesh(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path
) -> None:
    path = str(tmp_path / "snapshot.db")
    with mesh_factory(db_path=path) as mesh:  # durability="async": written behind
        mesh.push("x", 1)
    # closing flushed the snapshot: the write is in the file once the block ends
    assert [row.key for row in SqliteDB(path).items(mesh.user_id)] == ["x"]


@pytest.mark.parametrize("ttl", [-1, -0.001, "10", float("nan"), True])
def test_bad_ttl_is_refused(mesh: ContextMesh, ttl: object) -> None:
    with pytest.raises(SynthaValidationError):
        mesh.push("x", 1, ttl=ttl)  # type: ignore[arg-type]
    assert mesh.get("x") is None


def test_ttl_of_zero_means_the_item_never_expires(mesh: ContextMesh) -> None:
    mesh.push("x", 1, ttl=0)
    item = mesh.get_item("x")
    assert item is not None and item.value == 1 and item.expires_at is None


def test_ttl_of_zero_overrides_the_default_ttl(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(default_ttl=60)
    mesh.push("kept", 1, ttl=0)
    mesh.push("default", 1)
    assert mesh.get_item("kept").expires_at is None  # type: ignore[union-attr]
    assert mesh.get_item("default").expires_at is not None  # type: ignore[union-attr]


def test_absurd_ttl_is_refused(mesh: ContextMesh) -> None:
    with pytest.raises(SynthaValidationError):
        mesh.push("x", 1, ttl=3.6e15)
    assert mesh.get("x") is None


def test_deleting_a_missing_topic_changes_nothing(mesh: ContextMesh) -> None:
    mesh.push("x", 1)
    version = mesh.get_stats()["version"]
    report = mesh.delete_topic_report("never-existed")
    assert (report.existed, report.items_deleted) == (False, 0)
    assert mesh.get_stats()["version"] == version


def test_versions_keep_growing_after_redis_loses_the_data(mesh: ContextMesh, raw: Any) -> None:
    before = mesh.push("k", "old")
    root = mesh.operations.keys.root
    raw.delete(*raw.scan_iter(match=root + "*"))  # as after a Redis restart without persistence
    after = mesh.push("k", "new")
    assert after > before

