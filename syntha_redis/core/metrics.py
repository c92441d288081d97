"""Prometheus metrics of every mesh operation, recorded where operations run.

``Store.run`` and ``AsyncStore.run`` (``syntha_redis.core.store``) are the only
place an operation meets Redis, so they time it there and nowhere else:

    syntha_redis_operations_total{operation, outcome}            counter
    syntha_redis_operation_duration_seconds{operation, outcome}  histogram

``operation`` is the name of the operation in ``operations.py`` /
``batches.py`` (``push``, ``push_many``, ``get_item``, ``get_many``,
``visible_values``, ``visible_keys``, ``keys_by_topic``, ``remove``,
``subscribe``, ``watch``, ``sweep``, ``probe``, ...). ``outcome`` is ``ok`` or
the kind of SynthaError raised (``validation``, ``conflict``, ``permission``,
``quota``, ``connection``, ``timeout``, ``persistence``, ...).

Metrics are off unless ``metrics_enabled`` (``SYNTHA_METRICS_ENABLED=1``):
then a store holds no recorder and an operation costs one ``is None`` test.
Turned on without the ``metrics`` extra installed, the mesh refuses to start
rather than silently record nothing. The metrics live in prometheus_client's
default registry, so an application's existing ``/metrics`` exports them.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaConfigurationError, SynthaError

__all__ = ["OperationMetrics", "recorder", "outcome_of"]

# Loopback Redis answers in ~0.1 ms and a busy remote one in tens of ms; the
# prometheus_client default buckets start at 5 ms and would hide the first.
BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

_lock = threading.Lock()
_recorder: OperationMetrics | None = None


def outcome_of(error: BaseException | None) -> str:
    """``ok``, or the error's kind: ``SynthaConflictError`` -> ``conflict``."""
    if error is None:
        return "ok"
    if isinstance(error, SynthaError):
        name = type(error).__name__.removeprefix("Syntha").removesuffix("Error")
        return name.lower() or "error"
    # not raised by the library's own checks: a cancelled task, a bug
    return "cancelled" if type(error).__name__ == "CancelledError" else "internal"


class OperationMetrics:
    """The counter and histogram of operations, with their label children cached
    (``labels()`` validates and locks on every call; a dict lookup does not)."""

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram

        registry = REGISTRY if registry is None else registry
        labels = ("operation", "outcome")
        self._count = Counter(
            "syntha_redis_operations", "Mesh operations run, by outcome", labels,
            registry=registry,
        )
        self._seconds = Histogram(
            "syntha_redis_operation_duration_seconds",
            "Time of one mesh operation, all its Redis round trips included",
            labels, buckets=BUCKETS, registry=registry,
        )
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def measure(self, operation: object) -> Timing:
        """A context manager timing ``operation`` (a generator of ``operations.py``)."""
        return Timing(self, getattr(operation, "__name__", "operation"))

    def record(self, operation: str, outcome: str, seconds: float) -> None:
        children = self._children.get((operation, outcome))
        if children is None:
            children = (self._count.labels(operation, outcome),
                        self._seconds.labels(operation, outcome))
            self._children[(operation, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)


class Timing:
    __slots__ = ("_metrics", "_operation", "_start")

    def __init__(self, metrics: OperationMetrics, operation: str) -> None:
        self._metrics = metrics
        self._operation = operation
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._metrics.record(self._operation, outcome_of(exc), time.perf_counter() - self._start)


def recorder(settings: Settings) -> OperationMetrics | None:
    """The process's recorder if ``settings.metrics_enabled``, else None."""
    global _recorder
    if not settings.metrics_enabled:
        return None
    if _recorder is None:
        with _lock:
            if _recorder is None:
                try:
                    _recorder = OperationMetrics()
                except ImportError as e:
                    raise SynthaConfigurationError(
                        "metrics_enabled is set but prometheus-client is not installed",
                        config_key="metrics_enabled",
                        cause=e,
                        suggestions=["pip install 'syntha_redis[metrics]', or unset "
                                     "SYNTHA_METRICS_ENABLED / metrics_enabled"],
                    ) from None
    return _recorder
