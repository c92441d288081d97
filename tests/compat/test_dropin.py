"""What Syntha code relies on and gets unchanged after the import swap:
``ContextMesh(db_path=...)``, Syntha's ``ContextItem``, sizes Syntha accepts,
the package root's names and a clear error for a missing extra."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import syntha_redis
from syntha_redis import (
    AsyncToolHandler,
    ContextItem,
    ContextMesh,
    SQLiteBackend,
    StoredItem,
    SynthaConfigurationError,
    SynthaFrameworkError,
    SynthaValidationError,
    context,
)

# -- db_path alone --------------------------------------------------------------------


def test_db_path_alone_snapshots_into_that_sqlite_file(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path
) -> None:
    path = tmp_path / "syntha.db"
    mesh = mesh_factory(db_path=str(path), durability="sync")
    mesh.push("plan", {"step": 1})
    assert isinstance(mesh.db_backend.db, SQLiteBackend)
    assert mesh.db_backend.get_all_context_items()["plan"][0] == {"step": 1}
    mesh.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert tables, "the snapshot file holds the snapshot's tables"


def test_db_path_with_persistence_off_is_an_error_not_ignored(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path
) -> None:
    with pytest.raises(SynthaConfigurationError, match="db_path"):
        mesh_factory(db_path=str(tmp_path / "x.db"), enable_persistence=False)
    assert not (tmp_path / "x.db").exists()


def test_a_mesh_without_database_arguments_creates_no_file(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mesh = mesh_factory()
    mesh.push("k", 1)
    assert mesh.db_backend is None
    assert list(tmp_path.iterdir()) == []


# -- ContextItem ----------------------------------------------------------------------


def test_context_item_is_syntha_s_from_the_root_and_from_context() -> None:
    assert syntha_redis.ContextItem is ContextItem is context.ContextItem
    item = ContextItem("v", ["a1"], 60)
    assert (item.value, item.subscribers, item.ttl) == ("v", ["a1"], 60)
    assert item.created_at == pytest.approx(time.time(), abs=5)
    assert not item.is_expired()


def test_context_item_copies_its_value_and_subscribers() -> None:
    value, subscribers = {"list": [1]}, ["a1"]
    item = ContextItem(value, subscribers)
    value["list"].append(2)
    subscribers.append("a2")
    assert item.value == {"list": [1]}
    assert item.subscribers == ["a1"]


def test_context_item_without_subscribers_is_for_everyone() -> None:
    assert ContextItem("v").is_accessible_by("anyone")
    private = ContextItem("v", ["a1", "a2"])
    assert private.is_accessible_by("a2")
    assert not private.is_accessible_by("a3")


@pytest.mark.parametrize("ttl", [0, -1])
def test_context_item_with_ttl_zero_or_less_is_expired_as_in_syntha(ttl: float) -> None:
    item = ContextItem("v", ttl=ttl)
    assert item.is_expired()
    assert not item.is_accessible_by("anyone")


def test_context_item_expires_after_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    item = ContextItem("v", ttl=10)
    monkeypatch.setattr(time, "time", lambda: item.created_at + 11)
    assert item.is_expired()


def test_get_item_returns_the_typed_stored_item(mesh: ContextMesh) -> None:
    mesh.push("k", 1, topics=["t"])
    item = mesh.get_item("k")
    assert isinstance(item, StoredItem)
    assert (item.key, item.value, item.topics) == ("k", 1, ["t"])


# -- sizes Syntha code uses -----------------------------------------------------------


def test_a_1000_character_key_is_accepted(mesh: ContextMesh) -> None:
    mesh.push("a" * 1000, "v")
    assert mesh.get("a" * 1000) == "v"


def test_an_empty_key_is_accepted_as_in_syntha(mesh: ContextMesh) -> None:
    mesh.push("", "empty")
    mesh.push("k", "other")
    assert mesh.get("") == "empty"
    assert mesh.get_all_for_agent("a") == {"": "empty", "k": "other"}
    assert mesh.remove("") is True
    assert mesh.get("") is None and mesh.get("k") == "other"


def test_whitespace_only_keys_are_still_refused(mesh: ContextMesh) -> None:
    with pytest.raises(SynthaValidationError, match="empty"):
        mesh.push("   ", "v")


def test_1000_subscribers_are_accepted(mesh: ContextMesh) -> None:
    mesh.push("k", "v", subscribers=[f"agent_{i}" for i in range(1000)])
    assert mesh.get("k", "agent_999") == "v"
    assert mesh.get("k", "outsider") is None


def test_100_topics_per_item_and_per_agent_are_accepted(mesh: ContextMesh) -> None:
    topics = [f"topic_{i}" for i in range(100)]
    mesh.register_agent_topics("a", topics)
    mesh.push("k", "v", topics=topics)
    assert mesh.get("k", "a") == "v"


@pytest.mark.parametrize("char", ["x", "é", "🔑"])
def test_a_1_mib_string_is_accepted_whatever_its_characters(mesh: ContextMesh, char: str) -> None:
    value = {"data": char * (1 << 20)}
    mesh.push("big", value)
    assert mesh.get("big") == value


def test_the_limits_stay_configurable(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_key_length=10, max_subscribers_per_item=2, max_value_bytes=100)
    with pytest.raises(SynthaValidationError, match="limit is 10"):
        mesh.push("k" * 11, 1)
    with pytest.raises(SynthaValidationError, match="limit is 2"):
        mesh.push("k", 1, subscribers=["a", "b", "c"])
    with pytest.raises(SynthaValidationError, match="limit is 100"):
        mesh.push("k", "x" * 200)
    assert mesh.get("k") is None


# -- names and extras -----------------------------------------------------------------


def test_async_tool_handler_imports_from_the_root() -> None:
    assert "AsyncToolHandler" in syntha_redis.__all__
    assert AsyncToolHandler.__name__ == "AsyncToolHandler"


@pytest.mark.parametrize("module", ["psycopg_pool", "psycopg"])
def test_postgres_without_its_extra_names_the_extra(
    mesh_factory: Callable[..., ContextMesh], monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(SynthaConfigurationError) as raised:
        mesh_factory(db_backend="postgresql", connection_string="postgresql://db/x")
    assert module in raised.value.message
    assert raised.value.suggestion == "pip install 'syntha_redis[postgres]'"


def test_bad_input_is_also_a_value_error_as_syntha_raises(
    mesh: ContextMesh, mesh_factory: Callable[..., ContextMesh]
) -> None:
    with pytest.raises(ValueError) as raised:
        mesh.push(None, "v")  # type: ignore[arg-type]
    assert isinstance(raised.value, SynthaValidationError)
    with pytest.raises(ValueError) as configured:
        mesh_factory(db_backend="oracle")
    assert isinstance(configured.value, SynthaConfigurationError)


def test_a_framework_error_without_advice_gets_syntha_s_generic_advice() -> None:
    generic = SynthaFrameworkError("LangChain failed", framework="langchain")
    assert generic.suggestion == "Check if langchain is properly installed"
    specific = SynthaFrameworkError(
        "no agno", framework="agno", suggestions=["pip install 'syntha_redis[agno]'"]
    )
    assert specific.suggestions == ["pip install 'syntha_redis[agno]'"]
