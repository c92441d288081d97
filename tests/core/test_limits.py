"""The deployment's limits live in Redis: every client, and a raw EVALSHA, is held to them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from syntha_redis import (
    ContextMesh,
    SynthaConfigurationError,
    SynthaQuotaError,
    SynthaValidationError,
)
from syntha_redis.cli import main
from syntha_redis.core import keys, limits
from syntha_redis.core.scripts import SCRIPTS
from syntha_redis.core.store import Store


def test_a_client_with_laxer_settings_is_held_to_the_deployments_quota(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    first = mesh_factory("first", max_items_per_user=3)  # the first start writes the limits
    first.push("a", 1)
    lax = mesh_factory("lax", max_items_per_user=None)
    for i in range(3):
        lax.push(f"k{i}", i)
    with pytest.raises(SynthaQuotaError):
        lax.push("k3", 3)
    assert lax.size() == 3


def test_a_limit_given_explicitly_that_differs_from_the_deployments_is_refused(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh_factory("first", max_items_per_user=3).push("a", 1)
    other = mesh_factory("other", max_items_per_user=5)
    with pytest.raises(SynthaConfigurationError) as refused:
        other.push("k", 1)
    message = str(refused.value)
    assert "max_items_per_user=5" in message and "max_items_per_user=3" in message
    assert "syntha-redis limits set" in message and refused.value.config_key == "max_items_per_user"
    assert other.size() == 0
    # the same limit given again agrees: no error
    assert mesh_factory("same", max_items_per_user=3).push("k", 1) > 0


def test_a_limit_from_the_environment_that_differs_warns_once_and_the_deployments_holds(
    mesh_factory: Callable[..., ContextMesh], monkeypatch: pytest.MonkeyPatch
) -> None:
    mesh_factory("first", max_value_bytes=1000).push("a", 1)
    monkeypatch.setenv("SYNTHA_MAX_VALUE_BYTES", "100000")
    with pytest.warns(limits.SynthaConfigurationWarning, match="max_value_bytes=1000") as seen:
        lax = mesh_factory("lax")
        lax.push("small", 1)
        mesh_factory("lax-2").push("small", 1)  # the same process: no second warning
    assert len(seen) == 1
    with pytest.raises(SynthaValidationError) as refused:
        lax.push("big", "x" * 5000)
    assert "max_value_bytes" in refused.value.suggestion and "1016" in refused.value.message
    assert lax.get("big") is None and lax.size() == 1


def test_a_raw_evalsha_cannot_store_a_value_over_the_limit(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(max_value_bytes=1000)
    mesh.push("seed", 1)
    script = SCRIPTS["push"]
    args = (*mesh.operations._head(), keys.encode("big"), b"x" * 5_000_000, "", "", "", 0, "")
    reply = raw.evalsha(script.sha, 1, mesh.operations.keys.root, *args)
    assert reply[0] == 0 and reply[1] == b"value_too_large"
    assert mesh.get("big") is None and mesh.size() == 1


def test_too_many_topics_or_subscribers_are_refused_by_the_script(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory("first", max_topics_per_item=2, max_subscribers_per_item=2)
    mesh.push("a", 1)
    for topics, subs, code in ((["a", "b", "c"], [], b"too_many_topics"),
                               ([], ["a", "b", "c"], b"too_many_subscribers")):
        args = (*mesh.operations._head(), "k", b"\x01", "", ",".join(topics), ",".join(subs),
                0, "")
        reply = raw.evalsha(SCRIPTS["push"].sha, 1, mesh.operations.keys.root, *args)
        assert reply[0] == 0 and reply[1] == code
    assert mesh.size() == 1


def test_changed_limits_hold_at_once_for_existing_users(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(max_items_per_user=None)
    mesh.push("a", 1)
    mesh.push("b", 2)
    settings = mesh.settings
    Store(settings).run(limits.set_limits(settings, {"max_items_per_user": 2}, ["user-1"]))
    with pytest.raises(SynthaQuotaError):
        mesh.push("c", 3)
    with pytest.raises(Exception, match="cannot set limits"):
        Store(settings).run(limits.set_limits(settings, {"max_everything": 1}, []))


def test_health_shows_the_deployments_limits(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_items_per_user=7)
    mesh.push("a", 1)
    shown = mesh.health().limits
    assert shown is not None and shown["max_items_per_user"] == 7
    assert set(shown) == set(limits.FIELDS)


def test_the_cli_shows_and_sets_the_limits_for_every_registered_user(
    mesh_factory: Callable[..., ContextMesh], redis_url: str | None, key_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mesh = mesh_factory(max_items_per_user=None)
    mesh.push("a", 1)
    where = ["--key-prefix", key_prefix, *(["--redis-url", redis_url] if redis_url else [])]
    # on fakeredis the CLI shares this process's embedded store: asked for explicitly
    changing = [*where, *([] if redis_url else ["--embedded"])]
    assert main(["limits", "set", "max_items_per_user=1", *changing]) == 0
    assert '"max_items_per_user": 1' in capsys.readouterr().out
    with pytest.raises(SynthaQuotaError):
        mesh.push("b", 2)
    assert main(["limits", "set", "max_items_per_user=x", *changing]) == 2
    assert main(["limits", "show", *where]) == 0
    assert '"max_items_per_user": 1' in capsys.readouterr().out


def test_an_unreadable_copy_of_the_limits_is_provisioned_again(
    mesh_factory: Callable[..., ContextMesh], raw: Any
) -> None:
    mesh = mesh_factory(max_items_per_user=2)
    mesh.push("a", 1)
    raw.set(mesh.operations.keys.root + "limits", "garbage")
    mesh.push("b", 2)
    with pytest.raises(SynthaQuotaError):
        mesh.push("c", 3)
