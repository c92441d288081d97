"""The snapshot's lag as Prometheus gauges, read when scraped.

    syntha_redis_snapshot_lag_seconds{group}      age of the oldest change not captured
    syntha_redis_snapshot_lag_entries{group}      changes not captured (gaps count)
    syntha_redis_snapshot_gap_users{group}        users whose unread changes are gone
    syntha_redis_snapshot_full_captures{group}    full captures after a gap (counter)

``export(snapshotter)`` registers them in prometheus_client's default registry
(the ``metrics`` extra), so ``syntha-redis snapshot run --port`` serves them on
``/metrics``. One reading of ``Snapshotter.lag()`` per scrape; a lag Redis
will not give is left out, never reported as 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syntha_redis.exceptions import SynthaError
from syntha_redis.snapshot.capture import Snapshotter

__all__ = ["export"]


class _Collector:
    def __init__(self, snapshotter: Snapshotter) -> None:
        self.snapshotter = snapshotter

    def describe(self) -> list[Any]:
        return []  # unchecked: several snapshotters of one process may register

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        group = [self.snapshotter.group]
        captures = CounterMetricFamily("syntha_redis_snapshot_full_captures",
                                       "Full captures of a user after a gap", labels=["group"])
        captures.add_metric(group, self.snapshotter.recaptures)
        yield captures
        try:
            lag = self.snapshotter.lag()
        except SynthaError:
            return
        for name, help_text, value in (
            ("lag_seconds", "Age of the oldest change not yet in the snapshot", lag.seconds),
            ("lag_entries", "Changes not yet in the snapshot", lag.entries),
            ("gap_users", "Users whose changes were lost before capture", len(lag.gaps)),
        ):
            gauge = GaugeMetricFamily(f"syntha_redis_snapshot_{name}", help_text,
                                      labels=["group"])
            gauge.add_metric(group, value)
            yield gauge


def export(snapshotter: Snapshotter, registry: Any = None) -> None:
    """Serve ``snapshotter``'s lag from ``registry`` (default: prometheus_client's)."""
    from prometheus_client import REGISTRY

    (REGISTRY if registry is None else registry).register(_Collector(snapshotter))
