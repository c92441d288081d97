"""Values round-trip exactly; what cannot be stored is refused before any write."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from syntha_redis import ContextMesh, SynthaQuotaError, SynthaValidationError

# the mesh contract: every test here runs on ContextMesh and AsyncContextMesh
pytestmark = pytest.mark.both_meshes

ROUND_TRIPS = [
    None, True, 0, -1, 2**63 - 1, 1.5, "", "text ü 名前", b"\x00\xffbytes",
    [1, [2, [3]]], {"nested": {"list": [1, "a", None], "bytes": b"x"}}, {"": 0},
]


@pytest.mark.parametrize("value", ROUND_TRIPS)
def test_values_round_trip_exactly(mesh: ContextMesh, value: Any) -> None:
    mesh.push("k", value)
    item = mesh.get_item("k")
    assert item is not None and item.value == value and type(item.value) is type(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), datetime.datetime.now(), 2**70])
def test_unencodable_values_are_refused_and_nothing_changes(mesh: ContextMesh, value: Any) -> None:
    mesh.push("k", "kept")
    with pytest.raises(SynthaValidationError) as info:
        mesh.push("k", value)
    assert info.value.suggestion
    assert mesh.get("k") == "kept"


def test_oversize_values_are_refused(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_value_bytes=1000)
    with pytest.raises(SynthaValidationError, match="limit is 1000"):
        mesh.push("big", "x" * 2000)
    assert mesh.get("big") is None


def test_item_quota_is_enforced_in_the_script(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_items_per_user=2)
    mesh.push("a", 1)
    mesh.push("b", 2)
    mesh.push("a", 3)  # replacing does not count
    with pytest.raises(SynthaQuotaError):
        mesh.push("c", 4)
    assert mesh.size() == 2 and mesh.get("c") is None


def test_byte_quota_is_enforced_in_the_script(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(max_bytes_per_user=100)
    mesh.push("a", "x" * 60)
    with pytest.raises(SynthaQuotaError):
        mesh.push("b", "y" * 60)
    mesh.remove("a")
    mesh.push("b", "y" * 60)
    # the key counts too: 1 + the encoded value (60 + a 2-byte header)
    assert mesh.get_stats()["total_bytes"] == 63
