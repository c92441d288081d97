"""A Redis Cluster failover under two writer processes: 3 primaries, 3 replicas, loopback.

The primary serving one user's slot is killed with SIGKILL while two processes
push to six users. Measured: the error window (the longest time a user's
writes got errors instead of acknowledgements), and acknowledged writes that
are missing afterwards, with nobody restarting a process. Run with ``-s``.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability import fleet
from tests.support.servers import RedisClusterProcesses

pytestmark = pytest.mark.slow

SPAWN = mp.get_context("spawn")
USERS = [f"u{i}" for i in range(6)]
PUSHES = 300  # per writer


@pytest.fixture
def cluster() -> Iterator[RedisClusterProcesses]:
    nodes = RedisClusterProcesses().start(size=6, replicas=1, node_timeout_ms=1000)
    yield nodes
    nodes.stop()


def _parse(log: Path) -> tuple[dict[tuple[str, str], int], dict[str, list[tuple[float, bool]]]]:
    acked: dict[tuple[str, str], int] = {}
    timeline: dict[str, list[tuple[float, bool]]] = {}
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts[0] == "ack" and len(parts) == 5:
            acked[(parts[1], parts[2])] = int(parts[3])
            timeline.setdefault(parts[1], []).append((float(parts[4]), True))
        elif parts[0] == "err" and len(parts) == 3:
            timeline.setdefault(parts[1], []).append((float(parts[2]), False))
    return acked, timeline


def _error_window(events: list[tuple[float, bool]]) -> float:
    """From the last acknowledgement before the first error to the first one after the
    last error (0 if no error)."""
    events = sorted(events)
    errors = [t for t, ok in events if not ok]
    if not errors:
        return 0.0
    before = max((t for t, ok in events if ok and t < errors[0]), default=errors[0])
    after = min((t for t, ok in events if ok and t > errors[-1]), default=errors[-1])
    return after - before


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_a_primary_killed_under_two_writers(
    durability: str, cluster: RedisClusterProcesses, pg_dsn: str, tmp_path: Path
) -> None:
    prefix = f"f{durability}"
    logs = [tmp_path / f"w{n}.log" for n in range(2)]
    writers = [SPAWN.Process(target=fleet.write_users,
                             args=(cluster.url, prefix, pg_dsn, durability, USERS, n, PUSHES,
                                   str(logs[n]), 0.004)) for n in range(2)]
    for w in writers:
        w.start()
    try:
        while sum(len(_parse(log)[0]) if log.exists() else 0 for log in logs) < 150:
            assert all(w.exitcode in (None, 0) for w in writers)
            time.sleep(0.01)
        victim_key = f"{prefix}:{{u:u0}}:ver"
        victim = cluster.primary_of(victim_key)
        killed_at = time.monotonic()
        victim.kill()
        deadline = killed_at + 30
        while True:
            try:
                if cluster.primary_of(victim_key) is not victim:
                    break
            except Exception:  # a node mid-failover may refuse CLUSTER SLOTS
                pass
            assert time.monotonic() < deadline, "no replica took over"
            time.sleep(0.05)
        promoted_after = time.monotonic() - killed_at
        for w in writers:
            w.join(120)
        assert [w.exitcode for w in writers] == [0, 0]
    finally:
        for w in writers:
            if w.is_alive():
                w.kill()
    acked: dict[tuple[str, str], int] = {}
    timelines: dict[str, list[tuple[float, bool]]] = {}
    for log in logs:
        a, t = _parse(log)
        acked |= a
        for user, events in t.items():
            timelines.setdefault(user, []).extend(events)
    assert len(acked) == 2 * PUSHES
    missing: list[tuple[str, str]] = []
    for user in USERS:
        mesh = fleet.open_mesh(cluster.url, prefix, pg_dsn, durability, user=user)
        wanted = {key for (u, key) in acked if u == user}
        found = mesh.get_many(sorted(wanted))
        missing += [(user, key) for key in wanted - set(found)]
        mesh.close()
    window = max(_error_window(events) for events in timelines.values())
    affected = sorted(u for u, events in timelines.items() if not all(ok for _, ok in events))
    print(f"\nfailover ({durability}): replica promoted {promoted_after:.1f}s after kill -9; "
          f"error window {window:.2f}s for users {affected}; {len(acked)} acknowledged, "
          f"{len(missing)} missing after failover")
    if durability == "sync":
        assert missing == []
    assert window < 30
