"""Framework adapters: each format, calls through the one validator, real LangChain and Agno."""

from __future__ import annotations

import asyncio
import json

import pytest
from agno.tools.function import Function, FunctionCall
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from syntha_redis import ContextMesh, SynthaFrameworkError
from syntha_redis.agents.adapters import (
    FRAMEWORK_ADAPTERS,
    create_framework_adapter,
    get_supported_frameworks,
)
from syntha_redis.agents.factory import create_tool_factory
from syntha_redis.tools import ToolHandler, get_all_tool_schemas

SCHEMAS = {s["name"]: s for s in get_all_tool_schemas()}


def test_supported_frameworks() -> None:
    assert sorted(get_supported_frameworks()) == [
        "agno",
        "anthropic",
        "langchain",
        "langgraph",
        "openai",
    ]
    assert set(FRAMEWORK_ADAPTERS) == set(get_supported_frameworks())


def test_unknown_framework_raises_a_framework_error(alice: ToolHandler) -> None:
    with pytest.raises(SynthaFrameworkError) as caught:
        create_framework_adapter("crewai", alice)
    assert caught.value.suggestion and "openai" in caught.value.suggestion


# -- OpenAI ---------------------------------------------------------------------------


def test_openai_functions_wrap_the_schemas(alice: ToolHandler) -> None:
    tools = alice.get_openai_functions()
    assert [t["function"]["name"] for t in tools] == list(SCHEMAS)
    first = tools[0]
    assert first["type"] == "function"
    assert first["function"]["parameters"] == SCHEMAS["get_context"]["parameters"]


def test_openai_functions_respect_access_control(mesh: ContextMesh) -> None:
    handler = ToolHandler(mesh, "A", allowed_tools=["list_context"])
    assert [t["function"]["name"] for t in handler.get_openai_functions()] == ["list_context"]


def test_openai_handler_runs_json_arguments(mesh: ContextMesh, alice: ToolHandler) -> None:
    call = alice.get_framework_handler("openai")
    assert call is not None
    result = call("push_context", '{"key": "deal", "value": "won", "topics": ["sales"]}')
    assert result["success"] is True and mesh.get("deal") == "won"


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"'])
def test_openai_handler_answers_unusable_arguments(alice: ToolHandler, arguments: str) -> None:
    call = alice.get_framework_handler("openai")
    assert call is not None
    result = call("push_context", arguments)
    assert result["success"] is False and result["error"] and result["suggestion"]


# -- Anthropic ------------------------------------------------------------------------


def test_anthropic_tools_use_input_schema(alice: ToolHandler) -> None:
    tool = alice.get_anthropic_tools()[1]
    assert tool == {
        "name": "push_context",
        "description": SCHEMAS["push_context"]["description"],
        "input_schema": SCHEMAS["push_context"]["parameters"],
    }


def test_anthropic_handler_runs_a_tool_use_block(mesh: ContextMesh, alice: ToolHandler) -> None:
    call = alice.get_framework_handler("anthropic")
    assert call is not None
    assert call("push_context", {"key": "k", "value": "v"})["success"] is True
    assert mesh.get("k") == "v"


def test_anthropic_handler_reports_failures_with_tool_and_framework(alice: ToolHandler) -> None:
    call = alice.get_framework_handler("anthropic")
    assert call is not None
    result = call("push_context", {"key": "k"})
    assert result["success"] is False and "value" in result["error"]
    assert result["tool_name"] == "push_context" and result["framework"] == "anthropic"
    assert result["suggestion"]


# -- LangGraph ------------------------------------------------------------------------


def test_langgraph_tools_carry_a_json_returning_function(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    tool = alice.get_langgraph_tools()[1]
    assert tool["name"] == "push_context"
    assert tool["parameters"] == SCHEMAS["push_context"]["parameters"]
    result = json.loads(tool["function"](key="k", value="v", topics="sales, ops"))
    assert result["topics"] == ["sales", "ops"]
    assert sorted(mesh.get_item("k").topics) == ["ops", "sales"]  # type: ignore[union-attr]


# -- LangChain (real langchain-core) ------------------------------------------------------


def _langchain(handler: ToolHandler, name: str) -> BaseTool:
    return next(t for t in handler.get_langchain_tools() if t.name == name)


def test_langchain_tools_are_base_tools_with_syntha_schemas(alice: ToolHandler) -> None:
    tools = alice.get_langchain_tools()
    assert all(isinstance(t, BaseTool) for t in tools)
    push = convert_to_openai_tool(_langchain(alice, "push_context"))
    assert push["function"]["parameters"] == SCHEMAS["push_context"]["parameters"]


def test_langchain_push_context_without_ttl_hours_works(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    result = json.loads(_langchain(alice, "push_context").invoke({"key": "k", "value": "v"}))
    assert result["success"] is True and result["ttl_hours"] == 24.0
    assert mesh.get("k") == "v"


def test_langchain_bad_arguments_come_back_as_a_result(alice: ToolHandler) -> None:
    tool = _langchain(alice, "push_context")
    result = json.loads(tool.invoke({"key": "k", "value": "v", "ttl_hours": "abc"}))
    assert result["success"] is False and "ttl_hours" in result["error"] and result["suggestion"]


def test_langchain_async_invocation(mesh: ContextMesh, alice: ToolHandler) -> None:
    tool = _langchain(alice, "get_context")
    mesh.push("k", "v")
    result = json.loads(asyncio.run(tool.ainvoke({})))
    assert result["context"] == {"k": "v"}


def test_langchain_tool_from_a_model_tool_call(mesh: ContextMesh, alice: ToolHandler) -> None:
    tool = _langchain(alice, "subscribe_to_topics")
    message = tool.invoke(
        {
            "name": "subscribe_to_topics",
            "args": {"topics": ["sales"]},
            "id": "1",
            "type": "tool_call",
        }
    )
    assert json.loads(message.content)["success"] is True
    assert mesh.get_topics_for_agent("Alice") == ["sales"]


# -- Agno (real agno) ---------------------------------------------------------------------


def test_agno_tools_are_functions_with_syntha_schemas(alice: ToolHandler) -> None:
    tools = alice.get_agno_tools()
    assert all(isinstance(t, Function) for t in tools)
    push = next(t for t in tools if t.name == "push_context")
    assert push.to_dict()["parameters"] == SCHEMAS["push_context"]["parameters"]


def test_agno_function_call_executes_through_the_handler(
    mesh: ContextMesh, alice: ToolHandler
) -> None:
    push = next(t for t in alice.get_agno_tools() if t.name == "push_context")
    call = FunctionCall(function=push, arguments={"key": "k", "value": '{"a": 1}'})
    assert call.execute().status == "success"
    assert json.loads(str(call.result))["success"] is True
    assert mesh.get("k") == {"a": 1}


def test_agno_adapter_creates_selected_tools_only(alice: ToolHandler) -> None:
    adapter = create_framework_adapter("agno", alice)
    assert [t.name for t in adapter.create_tools(["get_context"])] == ["get_context"]
    with pytest.raises(SynthaFrameworkError):
        adapter.create_tools(["fly"])


# -- factory --------------------------------------------------------------------------------


def test_factory_caches_adapters_and_reports_them(alice: ToolHandler) -> None:
    factory = create_tool_factory(alice)
    assert factory.get_adapter("OpenAI ") is factory.get_adapter("openai")
    assert factory.get_cache_info()["cached_frameworks"] == ["openai"]
    factory.clear_cache()
    assert factory.get_cache_info()["cache_size"] == 0


def test_factory_create_tool_refuses_tools_the_agent_may_not_use(mesh: ContextMesh) -> None:
    factory = create_tool_factory(ToolHandler(mesh, "A", denied_tools=["delete_topic"]))
    assert factory.create_tool("openai", "get_context")["function"]["name"] == "get_context"
    with pytest.raises(SynthaFrameworkError, match="not available"):
        factory.create_tool("openai", "delete_topic")


@pytest.mark.parametrize("framework", ["openai", "anthropic", "langchain", "langgraph", "agno"])
def test_every_installed_framework_validates(alice: ToolHandler, framework: str) -> None:
    assert alice.validate_framework(framework)["valid"] is True


def test_validating_an_unknown_framework_suggests_the_supported_ones(alice: ToolHandler) -> None:
    result = alice.validate_framework("crewai")
    assert result["valid"] is False and "langchain" in result["suggestion"]


def test_framework_info(alice: ToolHandler) -> None:
    info = create_tool_factory(alice).get_framework_info("anthropic")
    assert info["adapter_class"] == "AnthropicAdapter" and info["tool_count"] == 7
    assert create_tool_factory(alice).get_framework_info()["total_frameworks"] == 5


def test_hybrid_integration_puts_existing_tools_first(alice: ToolHandler) -> None:
    mine = {"type": "function", "function": {"name": "weather"}}
    integration = alice.create_framework_integration("openai", [mine])
    assert integration["tools"][0] is mine
    assert integration["total_tools"] == 8 and integration["existing_tool_count"] == 1
    assert callable(integration["handler"]) and integration["tool_handler"] is alice


def test_langchain_integration_has_no_separate_handler(alice: ToolHandler) -> None:
    assert alice.create_framework_integration("langchain")["handler"] is None
