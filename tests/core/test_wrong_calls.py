"""Wrong calls of any public mesh method, and bad settings, are typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from syntha_redis import (
    AsyncContextMesh,
    ContextMesh,
    Settings,
    SynthaConfigurationError,
    SynthaError,
)
from syntha_redis.cli import main

WRONG_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("get", (), {"foo": 1}),
    ("get", ("k", "agent", "extra"), {}),
    ("get_all_for_agent", (), {}),
    ("remove", (), {"key": "k", "other": 2}),
    ("register_agent_topics", ("a",), {}),
    ("delete_topic", (), {}),
    ("size", (1,), {}),
]


@pytest.mark.parametrize(("method", "args", "kwargs"), WRONG_CALLS)
def test_a_wrong_call_of_a_mesh_method_is_a_typed_error(
    mesh: ContextMesh, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    mesh.push("k", 1)
    with pytest.raises(SynthaError) as refused:
        getattr(mesh, method)(*args, **kwargs)
    assert refused.value.suggestions
    assert mesh.get("k") == 1


@pytest.mark.parametrize(("method", "args", "kwargs"), WRONG_CALLS)
async def test_a_wrong_call_of_an_async_mesh_method_is_a_typed_error(
    method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    mesh = AsyncContextMesh(user_id="u", auto_cleanup=False)
    with pytest.raises(SynthaError):
        await getattr(mesh, method)(*args, **kwargs)
    await mesh.close()


def test_a_bad_setting_next_to_a_settings_object_is_a_configuration_error() -> None:
    with pytest.raises(SynthaConfigurationError) as refused:
        ContextMesh(user_id="u", settings=Settings(), max_items_per_user=-5)
    assert refused.value.config_key == "max_items_per_user"
    assert "max_items_per_user" in refused.value.message and refused.value.suggestions


def test_the_cli_refuses_an_empty_user_as_the_library_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["get", "k", "--user", ""]) == 2
    assert "user_id" in capsys.readouterr().err
