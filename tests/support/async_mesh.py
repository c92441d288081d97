"""Run an AsyncContextMesh from sync test code, so one behavioural suite
covers both APIs: each coroutine method runs on a private event-loop thread."""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from syntha_redis.async_context import AsyncContextMesh


class EventLoopThread:
    """One event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


class BlockingAsyncMesh:
    """The methods of an AsyncContextMesh, each awaited to completion."""

    def __init__(self, mesh: AsyncContextMesh, runner: EventLoopThread) -> None:
        self.mesh = mesh
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.mesh, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        method: Callable[..., Coroutine[Any, Any, Any]] = attr

        @functools.wraps(method)
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(method(*args, **kwargs))

        return blocking

    def watch(self, *args: Any, **kwargs: Any) -> BlockingAsyncWatch:
        """``mesh.watch(...)``, created on the loop (the watch belongs to its store)."""

        async def make() -> Any:
            return self.mesh.watch(*args, **kwargs)

        return BlockingAsyncWatch(self._runner.run(make()), self._runner)

    def __enter__(self) -> BlockingAsyncMesh:
        self._runner.run(self.mesh.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.run(self.mesh.__aexit__(None, None, None))

    def __repr__(self) -> str:
        return f"Blocking({self.mesh!r})"


class BlockingAsyncWatch:
    """An AsyncWatch iterated from sync code, one ``__anext__`` at a time on the loop."""

    def __init__(self, watch: Any, runner: EventLoopThread) -> None:
        self.watch = watch
        self._runner = runner

    @property
    def cursor(self) -> str:
        return str(self.watch.cursor)

    def __iter__(self) -> BlockingAsyncWatch:
        return self

    def __next__(self) -> Any:
        try:
            return self._runner.run(self.watch.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._runner.run(self.watch.aclose())

    def __enter__(self) -> BlockingAsyncWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

