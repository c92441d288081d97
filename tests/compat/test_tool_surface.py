"""Syntha's per-tool entry points: the schema getters of ``tools`` and the
``ToolHandler.handle_<tool>`` methods."""

from __future__ import annotations

from syntha_redis import ContextMesh, ToolHandler, get_all_tool_schemas, tools

GETTERS = {
    "get_context": tools.get_context_tool_schema,
    "push_context": tools.get_push_context_tool_schema,
    "list_context": tools.get_list_context_tool_schema,
    "subscribe_to_topics": tools.get_subscribe_to_topics_tool_schema,
    "discover_topics": tools.get_discover_topics_tool_schema,
    "unsubscribe_from_topics": tools.get_unsubscribe_from_topics_tool_schema,
    "delete_topic": tools.get_delete_topic_tool_schema,
}


def test_each_schema_getter_returns_its_tools_schema() -> None:
    by_name = {schema["name"]: schema for schema in get_all_tool_schemas()}
    assert set(GETTERS) == set(by_name)
    for name, getter in GETTERS.items():
        assert getter() == by_name[name]
        assert set(getter()) == {"name", "description", "parameters"}


def test_handler_per_tool_methods_run_the_tools(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, agent_name="Writer")
    assert handler.handle_subscribe_to_topics(topics=["sales"])["success"] is True
    pushed = handler.handle_push_context(key="q3", value='{"total": 7}', topics=["sales"])
    assert pushed["success"] is True
    got = handler.handle_get_context(keys=["q3"])
    assert got["success"] is True and got["context"] == {"q3": {"total": 7}}
    assert "q3" in handler.handle_list_context()["all_accessible_keys"]
    assert "sales" in handler.handle_discover_topics()["topics"]
    left = handler.handle_unsubscribe_from_topics(topics=["sales"])
    assert left["topics_unsubscribed"] == ["sales"]
    handler.handle_subscribe_to_topics(topics=["sales"])
    deleted = handler.handle_delete_topic(topic="sales", confirm=True)
    assert deleted["success"] is True and deleted["context_items_deleted"] == 1


def test_handler_per_tool_methods_keep_the_access_rules(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, agent_name="Reader", denied_tools=["push_context"])
    result = handler.handle_push_context(key="k", value="v")
    assert result["success"] is False
    assert result["error"] == "Access denied to tool: push_context"
    assert mesh.get("k") is None


def test_handler_per_tool_methods_return_bad_input_as_a_result(mesh: ContextMesh) -> None:
    result = ToolHandler(mesh, agent_name="Writer").handle_get_context(keyz=["a"])
    assert result["success"] is False
    assert "keyz" in result["error"]
