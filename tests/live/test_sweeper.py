"""The expiry sweeper: expiries become events, one sweeper per user at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import islice

from syntha_redis import ContextMesh
from syntha_redis.live.sweeper import Sweeper


def expire_one(mesh: ContextMesh) -> None:
    mesh.push("brief", 1, ttl=0.05)
    # let the TTL pass (nothing else makes time go by), and the 0.1 s lease of the
    # lapse test with it: waiting exactly 0.1 s raced the lease's own expiry
    threading.Event().wait(0.15)


def test_two_sweepers_of_one_user_only_one_acts(mesh_factory: Callable[..., ContextMesh]) -> None:
    mesh = mesh_factory(auto_cleanup=False)
    first, second = Sweeper(), Sweeper()
    expire_one(mesh)
    assert first.sweep(mesh.operations) == 1
    expire_one(mesh)
    assert second.sweep(mesh.operations) is None  # the lease is the first sweeper's
    assert first.sweep(mesh.operations) == 1  # and it keeps it by renewing


def test_a_dead_sweepers_lease_lapses_and_another_takes_over(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    # lease: 2 intervals, long enough that a loaded machine runs both sweeps within it
    mesh = mesh_factory(auto_cleanup=False, cleanup_interval=0.5)
    dead, survivor = Sweeper(), Sweeper()
    assert dead.sweep(mesh.operations) == 0
    assert survivor.sweep(mesh.operations) is None
    expire_one(mesh)
    threading.Event().wait(1.0)  # with expire_one's wait, past the 1 s lease for sure
    assert survivor.sweep(mesh.operations) == 1


def test_auto_cleanup_turns_an_idle_users_expiry_into_an_event(
    mesh_factory: Callable[..., ContextMesh],
) -> None:
    mesh = mesh_factory(cleanup_interval=0.05)
    watch = mesh.watch("a", timeout=0)
    list(watch)
    mesh.push("brief", 1, ttl=0.05)
    # nobody writes again: only the process's sweeper thread can prune and emit
    with mesh.watch("a", since=watch.cursor, timeout=10) as events:
        first_two = [(e.type, e.key) for e in islice(events, 2)]
    assert first_two == [("pushed", "brief"), ("expired", "brief")]


def test_a_dropped_mesh_is_no_longer_swept(mesh_factory: Callable[..., ContextMesh]) -> None:
    sweeper = Sweeper()
    mesh = mesh_factory(auto_cleanup=False)
    sweeper.add(mesh, mesh.operations)
    assert len(sweeper._users()) == 1
    sweeper.remove(mesh)
    assert sweeper._users() == {}
