"""A store that records every call it sends, for tests that count round trips
or make a call fail: install it with ``mesh.store = RecordingStore.of(mesh)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syntha_redis.context import ContextMesh
from syntha_redis.core.calls import Call
from syntha_redis.core.store import Store


class RecordingStore(Store):
    """``Store`` that appends each call to ``sent`` before sending it; with
    ``fail``, that callable answers (or raises) instead of Redis."""

    def __init__(self, mesh: ContextMesh, fail: Callable[[Call], Any] | None = None) -> None:
        super().__init__(mesh.settings, mesh.store.snapshot)
        self.sent: list[Call] = []
        self.fail = fail

    @classmethod
    def of(cls, mesh: ContextMesh, fail: Callable[[Call], Any] | None = None) -> RecordingStore:
        """A recording store for ``mesh``, installed as its store."""
        store = cls(mesh, fail)
        mesh.store = store
        return store

    def execute(self, call: Call) -> Any:
        self.sent.append(call)
        if self.fail is not None:
            return self.fail(call)
        return super().execute(call)
