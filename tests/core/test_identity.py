"""Whose mesh is this: user ids that are falsy are refused, None is Syntha's
single-user mode (the default user, with a warning), and ``require_user_id``
makes a user id mandatory for production fleets."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh, SynthaValidationError
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.config import Settings
from syntha_redis.tools import ToolHandler

FALSY = ["", 0, False, 0.0]


@pytest.mark.parametrize("user_id", FALSY, ids=repr)
def test_a_falsy_user_id_is_refused_and_reads_nothing(
    mesh_factory: Callable[..., ContextMesh], user_id: object
) -> None:
    with pytest.warns(UserWarning, match="user_id"):
        mesh_factory(user_id=None).push("shared-secret", 1)  # the default user's data
    with pytest.raises(SynthaValidationError) as caught:
        mesh_factory(user_id=user_id)
    assert caught.value.field == "user_id"
    assert "None" in (caught.value.suggestion or "")  # how to ask for the default user


@pytest.mark.parametrize("user_id", FALSY, ids=repr)
def test_the_async_mesh_refuses_them_too(
    redis_url: str | None, key_prefix: str, user_id: object
) -> None:
    with pytest.raises(SynthaValidationError):
        AsyncContextMesh(user_id=user_id, redis_url=redis_url, key_prefix=key_prefix)  # type: ignore[arg-type]


def test_none_is_the_default_user_with_a_warning(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    with pytest.warns(UserWarning, match="default user 'default'"):
        anonymous = mesh_factory(user_id=None)
    assert anonymous.user_id == "default"
    anonymous.push("k", "v")
    assert mesh_factory(user_id="default").get("k") == "v"
    assert mesh_factory(user_id="someone").get("k") is None


def test_every_anonymous_mesh_warns(mesh_factory: Callable[..., ContextMesh]) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        mesh_factory(user_id=None)
        mesh_factory(user_id=None)
    assert len([w for w in seen if "user_id" in str(w.message)]) == 2


def test_the_string_zero_is_a_user_id(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(user_id="0")
    mesh.push("k", 1)
    assert mesh.user_id == "0" and mesh_factory(user_id="default").get("k") is None


def test_require_user_id_refuses_a_mesh_without_one(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    with pytest.raises(SynthaValidationError, match="require_user_id"):
        mesh_factory(user_id=None, require_user_id=True)
    assert mesh_factory(user_id="alice", require_user_id=True).user_id == "alice"


def test_require_user_id_from_the_environment(
    mesh_factory: Callable[..., ContextMesh], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHA_REQUIRE_USER_ID", "true")
    assert Settings.from_env().require_user_id is True
    with pytest.raises(SynthaValidationError):
        mesh_factory(user_id=None)
    with pytest.raises(SynthaValidationError):
        asyncio.run(_anonymous_async())


async def _anonymous_async() -> None:
    AsyncContextMesh(auto_cleanup=False)


def test_require_user_id_from_a_settings_object(redis_url: str | None) -> None:
    settings = Settings(redis_url=redis_url, require_user_id=True)
    with pytest.raises(SynthaValidationError):
        ContextMesh(settings=settings)


def test_a_tool_handler_acts_only_in_its_meshs_user(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    alice = mesh_factory(user_id="alice")
    alice.push("k", "alice's")
    result = ToolHandler(mesh_factory(user_id="bob"), "agent").handle_tool_call("get_context")
    assert result["success"] is True and result["context"] == {}
