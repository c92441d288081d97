"""One user's data is never visible to or changeable by another."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syntha_redis import ContextMesh

# the mesh contract: every test here runs on ContextMesh and AsyncContextMesh
pytestmark = pytest.mark.both_meshes

ATTACKER_NAMES = ["victim", "victim}", "{u:victim}", "*", "victim:item:secret", "%76ictim"]


@pytest.mark.parametrize("attacker", ATTACKER_NAMES)
def test_another_user_sees_nothing(
    mesh_factory: Callable[..., ContextMesh], attacker: str
) -> None:
    victim = mesh_factory(user_id="victim")
    victim.push("secret", "s3cr3t")
    victim.push("topical", "t", topics=["sales"])
    victim.register_agent_topics("agent", ["sales"])
    other = mesh_factory(user_id=attacker + "-x" if attacker == "victim" else attacker)
    other.register_agent_topics("agent", ["sales"])
    assert other.get("secret") is None
    assert other.get("secret", "agent") is None
    assert other.get_all_for_agent("agent") == {}
    assert other.get_topics_for_agent("agent") == ["sales"]
    assert other.get_subscribers_for_topic("sales") == ["agent"]
    assert other.size() == 0


def test_another_user_cannot_change_or_clear(mesh_factory: Callable[..., ContextMesh]) -> None:
    victim = mesh_factory(user_id="victim")
    victim.push("secret", "s3cr3t", topics=["sales"])
    victim.register_agent_topics("agent", ["sales"])
    other = mesh_factory(user_id="intruder")
    assert other.remove("secret") is False
    assert other.delete_topic("sales") == 0
    other.clear()
    assert victim.get("secret", "agent") == "s3cr3t"
    assert victim.get_topics_for_agent("agent") == ["sales"]


def test_meshes_with_the_same_user_share_one_mesh(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    writer = mesh_factory(user_id="shared")
    reader = mesh_factory(user_id="shared")
    writer.push("k", "v", subscribers=["r"])
    assert reader.get("k", "r") == "v"
