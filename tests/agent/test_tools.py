"""The seven tools: Syntha's result shapes, plus versions, CAS and enforced post permissions."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import syntha.tools as upstream

from syntha_redis import ContextMesh
from syntha_redis.core.store import Call
from syntha_redis.tools import (
    ToolHandler,
    create_hybrid_tool_handler,
    get_all_tool_schemas,
    merge_tool_schemas,
)
from tests.support.recording import RecordingStore

# -- schemas -------------------------------------------------------------------


def test_schemas_are_syntha_schemas_word_for_word() -> None:
    ours = {s["name"]: s for s in get_all_tool_schemas()}
    theirs = {s["name"]: s for s in upstream.get_all_tool_schemas()}
    assert list(ours) == list(theirs)
    for name, schema in theirs.items():
        assert ours[name]["description"] == schema["description"]
        for param, spec in schema["parameters"]["properties"].items():
            assert ours[name]["parameters"]["properties"][param] == spec
        assert ours[name]["parameters"]["required"] == schema["parameters"]["required"]


def test_push_context_schema_adds_optional_expected_version() -> None:
    push = next(s for s in get_all_tool_schemas() if s["name"] == "push_context")
    assert push["parameters"]["properties"]["expected_version"]["type"] == "integer"
    assert "expected_version" not in push["parameters"]["required"]


def test_schemas_are_copies_the_caller_may_modify() -> None:
    get_all_tool_schemas()[0]["name"] = "changed"
    assert get_all_tool_schemas()[0]["name"] == "get_context"


def test_get_schemas_lists_only_available_tools(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "Alice", allowed_tools=["get_context", "list_context"])
    assert [s["name"] for s in handler.get_schemas()] == ["get_context", "list_context"]
    assert len(handler.get_syntha_schemas_only()) == 7


def test_get_schemas_renames_syntha_tools_that_clash(alice: ToolHandler) -> None:
    mine = [{"name": "get_context", "description": "my own", "parameters": {}}]
    merged = alice.get_schemas(merge_with=mine)
    names = [s["name"] for s in merged]
    assert names[0] == "get_context" and merged[0]["description"] == "my own"
    assert "syntha_get_context" in names and "get_context" not in names[1:]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("warn", ["get_context", "weather"]),
        ("skip", ["get_context", "weather"]),
        ("prefix", ["get_context", "weather", "user_get_context"]),
    ],
)
def test_merge_tool_schemas_policies(policy: str, expected: list[str]) -> None:
    syntha = [{"name": "get_context"}]
    user = [{"name": "weather"}, {"name": "get_context"}]
    assert [t["name"] for t in merge_tool_schemas(syntha, user, policy)] == expected


# -- get_context ------------------------------------------------------------------


def test_get_context_returns_everything_visible_with_versions(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.push("plan", "launch")
    mesh.push("secret", "x", subscribers=["Bob"])
    result = alice.handle_tool_call("get_context")
    assert result["success"] is True
    assert result["context"] == {"plan": "launch"}
    assert result["versions"] == {"plan": mesh.get_item("plan").version}  # type: ignore[union-attr]
    assert result["keys_found"] == ["plan"] and result["agent_name"] == "Alice"
    assert result["message"] == "Retrieved 1 context items"


def test_get_context_with_keys_skips_missing_and_invisible(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.push("plan", "launch")
    mesh.push("secret", "x", subscribers=["Bob"])
    result = alice.handle_tool_call("get_context", keys=["plan", "secret", "nope"])
    assert result["context"] == {"plan": "launch"}
    assert result["keys_requested"] == ["plan", "secret", "nope"]


@pytest.fixture
def sent(mesh: ContextMesh) -> list[Call]:
    """Every call the mesh's store sends to Redis from now on (one per round trip)."""
    return RecordingStore.of(mesh).sent


def test_get_context_reads_many_keys_in_one_round_trip(
    mesh: ContextMesh, alice: ToolHandler, sent: list[Call]
) -> None:
    mesh.push_many([{"key": f"k{i}", "value": i} for i in range(50)])
    sent.clear()
    wanted = [f"k{i}" for i in range(50)] + ["nope"]
    result = alice.handle_tool_call("get_context", keys=wanted)
    assert result["context"] == {f"k{i}": i for i in range(50)}
    assert [call.name for call in sent] == ["get_many"]


def test_get_context_beyond_the_batch_limit_fails_with_a_suggestion(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(max_batch_items=3)
    mesh.push("a", 1)
    alice = ToolHandler(mesh, "Alice")
    assert alice.handle_tool_call("get_context", keys=["a", "b", "c"])["context"] == {"a": 1}
    result = alice.handle_tool_call("get_context", keys=["a", "b", "c", "d"])
    assert result["success"] is False and "the limit is 3" in result["error"]
    assert "at most 3 keys" in result["suggestion"]
    assert result["context"] == {} and result["keys_requested"] == ["a", "b", "c", "d"]


# -- push_context ------------------------------------------------------------------


def test_push_context_parses_json_values(mesh: ContextMesh, alice: ToolHandler) -> None:
    result = alice.handle_tool_call("push_context", key="deal", value='{"amount": 5}')
    assert result["value"] == {"amount": 5}
    assert mesh.get("deal") == {"amount": 5}


def test_push_context_keeps_non_json_text(mesh: ContextMesh, alice: ToolHandler) -> None:
    alice.handle_tool_call("push_context", key="note", value="closed {won}")
    assert mesh.get("note") == "closed {won}"


def test_push_context_accepts_python_values_as_syntha_did(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    assert alice.handle_tool_call("push_context", key="d", value={"a": [1]})["success"]
    assert mesh.get("d") == {"a": [1]}


def test_push_context_result_shape(alice: ToolHandler) -> None:
    result = alice.handle_tool_call(
        "push_context", key="deal", value="v", topics=["sales"], subscribers=["Bob"]
    )
    assert result == {
        "success": True,
        "message": "Context 'deal' shared with topics: sales and subscribers: Bob",
        "key": "deal",
        "value": "v",
        "topics": ["sales"],
        "subscribers": ["Bob"],
        "ttl_hours": 24.0,
        "sender_agent": "Alice",
        "version": result["version"],
    }
    assert isinstance(result["version"], int)


def test_push_context_records_the_handler_agent_as_author(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    alice.handle_tool_call("push_context", key="deal", value="v")
    assert mesh.get_item("deal").author == "Alice"  # type: ignore[union-attr]


def test_push_context_defaults_to_a_24_hour_ttl(mesh: ContextMesh, alice: ToolHandler) -> None:
    alice.handle_tool_call("push_context", key="deal", value="v")
    item = mesh.get_item("deal")
    assert item is not None and item.expires_at is not None
    assert item.expires_at - item.created_at == pytest.approx(24 * 3600, abs=1)


@pytest.mark.parametrize("ttl_hours", [0, 0.0])
def test_push_context_ttl_of_zero_never_expires(
    mesh: ContextMesh, alice: ToolHandler, ttl_hours: float
) -> None:
    result = alice.handle_tool_call("push_context", key="deal", value="v", ttl_hours=ttl_hours)
    assert result["success"] is True
    assert mesh.get_item("deal").expires_at is None  # type: ignore[union-attr]


def test_push_context_negative_ttl_is_refused_with_the_rule(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    result = alice.handle_tool_call("push_context", key="deal", value="v", ttl_hours=-1)
    assert result["success"] is False
    assert "ttl_hours" in result["error"] and "0 (never expires)" in result["error"]
    assert "0 for an item that never expires" in result["suggestion"]
    assert mesh.get("deal") is None


def test_push_context_global_message_names_the_audience(alice: ToolHandler) -> None:
    result = alice.handle_tool_call("push_context", key="k", value="v")
    assert (
        result["message"] == "Context 'k' shared with all agents (no topics or subscribers given)"
    )


def test_push_context_compare_and_set_succeeds_at_the_expected_version(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    first = alice.handle_tool_call("push_context", key="k", value="1")["version"]
    result = alice.handle_tool_call("push_context", key="k", value="2", expected_version=first)
    assert result["success"] is True and result["version"] > first
    assert mesh.get("k") == 2


def test_push_context_conflict_returns_the_current_version_and_value(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    version = mesh.push("k", "theirs")
    result = alice.handle_tool_call("push_context", key="k", value="mine", expected_version=0)
    assert result["success"] is False
    assert result["current_version"] == version
    assert result["current_value"] == "theirs"
    assert f"expected_version={version}" in result["suggestion"]
    assert mesh.get("k") == "theirs"


def test_push_context_refused_post_names_the_allowed_topics(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.set_agent_post_permissions("Alice", ["sales", "ops"])
    result = alice.handle_tool_call("push_context", key="k", value="v", topics=["hr"])
    assert result["success"] is False
    assert sorted(result["allowed_topics"]) == ["ops", "sales"]
    assert "ops" in result["suggestion"] and "sales" in result["suggestion"]
    assert mesh.get("k") is None


def test_refused_post_is_logged_to_the_security_logger(
    mesh: ContextMesh, alice: ToolHandler, caplog: pytest.LogCaptureFixture
) -> None:
    mesh.set_agent_post_permissions("Alice", ["sales"])
    with caplog.at_level(logging.INFO, logger="syntha_redis.security"):
        alice.handle_tool_call("push_context", key="k", value="v", topics=["hr"])
    [record] = [r for r in caplog.records if r.name.startswith("syntha_redis.security")]
    assert record.security_context["event_type"] == "post_refused"  # type: ignore[attr-defined]
    assert record.security_context["agent_name"] == "Alice"  # type: ignore[attr-defined]
    assert record.security_context["topics"] == ["hr"]  # type: ignore[attr-defined]


# -- list / subscribe / unsubscribe / discover -------------------------------------


def test_list_context_groups_keys_by_topic(mesh: ContextMesh, alice: ToolHandler) -> None:
    mesh.register_agent_topics("Alice", ["sales"])
    mesh.push("deal", "v", topics=["sales"])
    mesh.push("memo", "v")
    result = alice.handle_tool_call("list_context")
    assert result["keys_by_topic"] == {"sales": ["deal"], "other": ["memo"]}
    assert sorted(result["all_accessible_keys"]) == ["deal", "memo"]
    assert result["topics_subscribed"] == ["sales"]
    assert result["total_keys"] == 2 and result["agent_name"] == "Alice"


def test_list_context_is_one_read(mesh: ContextMesh, alice: ToolHandler, sent: list[Call]) -> None:
    mesh.push("memo", "v")
    sent.clear()
    assert alice.handle_tool_call("list_context")["all_accessible_keys"] == ["memo"]
    assert [call.name for call in sent] == ["visible"]


def test_subscribe_replaces_the_agents_topics(mesh: ContextMesh, alice: ToolHandler) -> None:
    alice.handle_tool_call("subscribe_to_topics", topics=["a", "b"])
    result = alice.handle_tool_call("subscribe_to_topics", topics=["c"])
    assert result["success"] is True and result["agent"] == "Alice" and result["topics"] == ["c"]
    assert mesh.get_topics_for_agent("Alice") == ["c"]


def test_late_subscriber_sees_earlier_items_through_the_tools(
    alice: ToolHandler, bob: ToolHandler
) -> None:
    alice.handle_tool_call("push_context", key="deal", value="v", topics=["sales"])
    bob.handle_tool_call("subscribe_to_topics", topics=["sales"])
    assert bob.handle_tool_call("get_context")["context"] == {"deal": "v"}


def test_unsubscribe_reports_what_changed(mesh: ContextMesh, alice: ToolHandler) -> None:
    mesh.register_agent_topics("Alice", ["a", "b"])
    result = alice.handle_tool_call("unsubscribe_from_topics", topics=["a", "zzz"])
    assert result["topics_unsubscribed"] == ["a"]
    assert result["topics_not_subscribed"] == ["zzz"]
    assert result["remaining_topics"] == ["b"]


def test_unsubscribe_from_unfollowed_topics_still_succeeds(alice: ToolHandler) -> None:
    result = alice.handle_tool_call("unsubscribe_from_topics", topics=["zzz"])
    assert result["success"] is True and result["topics_unsubscribed"] == []


def test_discover_topics_ranks_by_subscriber_count(mesh: ContextMesh, alice: ToolHandler) -> None:
    mesh.register_agent_topics("Alice", ["niche", "sales"])
    mesh.register_agent_topics("Bob", ["sales"])
    result = alice.handle_tool_call("discover_topics", include_subscriber_names=True)
    assert list(result["topics"]) == ["sales", "niche"]
    assert result["topics"]["sales"] == {
        "subscriber_count": 2,
        "is_active": True,
        "subscribers": ["Alice", "Bob"],
    }
    assert result["popular_topics"] == ["sales"] and result["total_topics"] == 2
    assert result["suggestions"]["for_broad_reach"] == ["sales"]


def test_discover_topics_hides_subscriber_names_by_default(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.register_agent_topics("Bob", ["sales"])
    assert "subscribers" not in alice.handle_tool_call("discover_topics")["topics"]["sales"]


# -- delete_topic ---------------------------------------------------------------------


def test_delete_topic_removes_items_and_subscriptions(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.register_agent_topics("Bob", ["sales"])
    mesh.push("deal", "v", topics=["sales"])
    result = alice.handle_tool_call("delete_topic", topic="sales", confirm=True)
    assert result["success"] is True
    assert result["subscribers_affected"] == ["Bob"]
    assert result["context_items_deleted"] == 1
    assert mesh.get("deal") is None and mesh.get_all_topics() == []


def test_delete_topic_of_unknown_topic_lists_existing_ones(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    mesh.register_agent_topics("Bob", ["sales"])
    result = alice.handle_tool_call("delete_topic", topic="hr", confirm=True)
    assert result["error"] == "Topic 'hr' does not exist"
    assert result["available_topics"] == ["sales"]


# -- identity and routing of calls --------------------------------------------------------


def test_tools_refuse_to_run_without_an_agent_name(mesh: ContextMesh) -> None:
    result = ToolHandler(mesh).handle_tool_call("get_context")
    assert result["success"] is False and result["error"] == "Agent name not set"
    assert "agent_name" in result["suggestion"]


def test_delete_topic_needs_no_agent_name_as_in_syntha(mesh: ContextMesh) -> None:
    mesh.register_agent_topics("Bob", ["sales"])
    assert ToolHandler(mesh).handle_tool_call("delete_topic", topic="sales", confirm=True)[
        "success"
    ]


def test_a_model_cannot_act_as_another_agent(mesh: ContextMesh, alice: ToolHandler) -> None:
    result = alice.handle_tool_call("push_context", key="k", value="v", sender_agent="Bob")
    assert result["success"] is False and "sender_agent" in result["error"]
    assert mesh.get("k") is None


def test_unknown_tool_lists_the_available_tools(alice: ToolHandler) -> None:
    result = alice.handle_tool_call("fly")
    assert result["error"] == "Unknown tool: 'fly'"
    assert result["available_tools"] == alice.get_available_tools()


def test_hybrid_handler_routes_syntha_renamed_and_user_tools(alice: ToolHandler) -> None:
    hybrid = alice.create_hybrid_handler(lambda name, **kw: {"success": True, "user": name})
    assert hybrid("list_context")["success"] is True
    assert hybrid("syntha_list_context")["agent_name"] == "Alice"
    assert hybrid("weather", city="Oslo") == {"success": True, "user": "weather"}


def test_hybrid_handler_turns_user_tool_exceptions_into_results(mesh: ContextMesh) -> None:
    def broken(name: str, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("boom")

    hybrid = create_hybrid_tool_handler(mesh, "Alice", broken)
    result = hybrid("weather")
    assert result["success"] is False and "boom" in result["error"] and result["suggestion"]


def test_keys_with_colons_work_through_the_tools(mesh: ContextMesh, alice: ToolHandler) -> None:
    pushed = alice.handle_tool_call("push_context", key="customer:42", value="gold")
    read = alice.handle_tool_call("get_context", keys=["customer:42"])
    assert pushed["success"] and read["context"] == {"customer:42": "gold"}


def test_discover_unsubscribe_and_a_denied_push_are_one_round_trip_each(
    mesh: ContextMesh, alice: ToolHandler, sent: list[Call]
) -> None:
    mesh.register_agent_topics("Alice", ["sales", "ops"])
    mesh.register_agent_topics("Bob", ["sales"])
    mesh.set_agent_post_permissions("Alice", ["ops"])
    sent.clear()
    found = alice.handle_tool_call("discover_topics", include_subscriber_names=True)
    assert found["topics"]["sales"]["subscribers"] == ["Alice", "Bob"]
    assert found["topics"]["ops"]["subscriber_count"] == 1
    assert [call.name for call in sent] == ["discover"]
    sent.clear()
    left = alice.handle_tool_call("unsubscribe_from_topics", topics=["sales", "hr"])
    assert left["topics_unsubscribed"] == ["sales"] and left["topics_not_subscribed"] == ["hr"]
    assert left["remaining_topics"] == ["ops"]
    assert [call.name for call in sent] == ["unsubscribe"]
    sent.clear()
    denied = alice.handle_tool_call("push_context", key="k", value="v", topics=["sales"])
    assert denied["success"] is False and "ops" in denied["suggestion"]
    assert [call.name for call in sent] == ["push"]
