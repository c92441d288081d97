"""The only path to Redis: runs the calls that ``operations`` describes.

An operation is a generator that yields calls and receives their replies, so
the same logic drives the sync client (``Store``) and the asyncio client
(``AsyncStore``); only the I/O differs. Driver errors leave here as
SynthaErrors, thrown into the operation at the ``yield`` of the failed call:
an operation that can do without a reply (``health.probe``) catches it there,
any other lets it propagate. ``run`` is also where every operation is timed
for Prometheus (``syntha_redis.metrics``), when metrics are on.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.exceptions import NoScriptError

from syntha_redis.config import Settings
from syntha_redis.connection import get_async_client, get_client, translate_error
from syntha_redis.exceptions import SynthaError
from syntha_redis.metrics import recorder
from syntha_redis.scripts import SCRIPTS

__all__ = ["ScriptCall", "CommandCall", "Call", "Operation", "Store", "AsyncStore"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """EVALSHA of ``lua/<name>.lua`` with the user root as KEYS[1]."""

    name: str
    root: str
    args: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CommandCall:
    """One plain Redis command (reads of a single key, the user registry)."""

    args: tuple[Any, ...]

    @property
    def name(self) -> str:
        return str(self.args[0])


Call = ScriptCall | CommandCall
Operation = Generator[Call, Any, T]


class Store:
    """Runs operations on the process's shared sync client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = get_client(settings)
        self.metrics = recorder(settings)

    def run(self, operation: Operation[T]) -> T:
        if self.metrics is None:
            return self._drive(operation)
        with self.metrics.measure(operation):
            return self._drive(operation)

    def _drive(self, operation: Operation[T]) -> T:
        try:
            call = next(operation)
            while True:
                try:
                    reply = self.execute(call)
                except SynthaError as e:
                    call = operation.throw(e)
                else:
                    call = operation.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def execute(self, call: Call) -> Any:
        try:
            if isinstance(call, CommandCall):
                return self.client.execute_command(*call.args)  # type: ignore[no-untyped-call]
            script = SCRIPTS[call.name]
            try:
                return self.client.evalsha(script.sha, 1, call.root, *call.args)
            except NoScriptError:
                # the script cache is volatile (restart, failover, SCRIPT FLUSH)
                self.client.script_load(script.source)
                return self.client.evalsha(script.sha, 1, call.root, *call.args)
        except redis.RedisError as e:
            raise translate_error(e, self.settings, call.name) from e

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "ping") from e


class AsyncStore:
    """Runs operations on the asyncio client of the running event loop."""

    def __init__(self, settings: Settings, loop_id: int) -> None:
        self.settings = settings
        self.client = get_async_client(settings, loop_id)
        self.metrics = recorder(settings)

    async def run(self, operation: Operation[T]) -> T:
        if self.metrics is None:
            return await self._drive(operation)
        with self.metrics.measure(operation):
            return await self._drive(operation)

    async def _drive(self, operation: Operation[T]) -> T:
        try:
            call = next(operation)
            while True:
                try:
                    reply = await self.execute(call)
                except SynthaError as e:
                    call = operation.throw(e)
                else:
                    call = operation.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def execute(self, call: Call) -> Any:
        try:
            if isinstance(call, CommandCall):
                return await self.client.execute_command(*call.args)
            script = SCRIPTS[call.name]
            try:
                return await self.client.evalsha(script.sha, 1, call.root, *call.args)
            except NoScriptError:
                await self.client.script_load(script.source)
                return await self.client.evalsha(script.sha, 1, call.root, *call.args)
        except redis.RedisError as e:
            raise translate_error(e, self.settings, call.name) from e

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except redis.RedisError as e:
            raise translate_error(e, self.settings, "ping") from e
