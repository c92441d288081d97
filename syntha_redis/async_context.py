"""``AsyncContextMesh``: ``ContextMesh`` for asyncio, over ``redis.asyncio``.

Same constructor (``BaseContextMesh``), same methods and results, awaited.
Both run the very same ``MeshOperations`` generators, which hold all
validation, script calls and result shaping; this class only chooses the
asyncio store of the running event loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from syntha_redis.context import BaseContextMesh
from syntha_redis.core.connection import release_async_clients
from syntha_redis.core.health import HealthReport, check_health_async
from syntha_redis.core.models import StoredItem
from syntha_redis.core.store import AsyncStore, Operation
from syntha_redis.core.topic_operations import TopicDeletion
from syntha_redis.exceptions import typed_public_methods
from syntha_redis.live.events import AsyncWatch, ChangeEvent

__all__ = ["AsyncContextMesh"]

T = TypeVar("T")

# Event loops this process has served. Clients are cached per loop id, and a
# new loop can reuse the id of a finished one, whose clients are unusable.
_known_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _running_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.get_running_loop()
    if loop not in _known_loops:
        release_async_clients(id(loop))
        _known_loops.add(loop)
    return loop


@typed_public_methods
class AsyncContextMesh(BaseContextMesh):
    """Shared context for the agents of one end user, for asyncio code.

    Takes ``ContextMesh``'s arguments. Usable from any number of event loops;
    each loop gets its own connection pool.
    """

    def _open(self) -> None:
        self._stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncStore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def store(self) -> AsyncStore:
        """The store of the running event loop (one per loop, made on first use)."""
        loop = _running_loop()
        store = self._stores.get(loop)
        if store is None:
            store = self._stores[loop] = AsyncStore(self.settings, id(loop), self._snapshot_link())
        return store

    async def run(self, operation: Operation[T]) -> T:
        """Run one operation on the running loop's store; see ``ContextMesh.run``."""
        return await self.store.run(operation)

    # -- items -------------------------------------------------------------------

    async def push(
        self,
        key: str,
        value: Any,
        subscribers: list[str] | None = None,
        topics: list[str] | None = None,
        ttl: float | None = None,
        *,
        agent_name: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """See ``ContextMesh.push``."""
        return await self.run(
            self.operations.push(key, value, subscribers, topics, ttl, agent_name, expected_version)
        )

    async def push_many(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """See ``ContextMesh.push_many``."""
        return await self.run(self.operations.push_many(self.operations.batch_items(items)))

    async def get_many(self, keys: Iterable[str], agent_name: str | None = None) -> dict[str, Any]:
        items = await self.get_many_items(keys, agent_name)
        return {key: item.value for key, item in items.items()}

    async def get_many_items(
        self, keys: Iterable[str], agent_name: str | None = None
    ) -> dict[str, StoredItem]:
        return await self.run(self.operations.get_many(keys, agent_name))

    async def get(self, key: str, agent_name: str | None = None) -> Any:
        return await self.run(self.operations.get_value(key, agent_name))

    async def get_item(self, key: str, agent_name: str | None = None) -> StoredItem | None:
        return await self.run(self.operations.get_item(key, agent_name))

    async def get_visible_items(self, agent_name: str) -> list[StoredItem]:
        return (await self.run(self.operations.visible_items(agent_name)))[1]

    async def get_all_for_agent(self, agent_name: str) -> dict[str, Any]:
        return await self.run(self.operations.visible_values(agent_name))

    async def get_keys_for_agent(self, agent_name: str) -> list[str]:
        return await self.run(self.operations.visible_keys(agent_name))

    async def get_available_keys_by_topic(self, agent_name: str) -> dict[str, list[str]]:
        return await self.run(self.operations.keys_by_topic(agent_name))

    async def remove(self, key: str) -> bool:
        return await self.run(self.operations.remove(key))

    delete = remove

    async def clear(self) -> None:
        await self.run(self.operations.clear())

    async def cleanup_expired(self) -> int:
        return await self.run(self.operations.cleanup_expired())

    async def size(self) -> int:
        return int((await self.run(self.operations.stats_summary()))["active_items"])

    async def get_stats(self) -> dict[str, Any]:
        return await self.run(self.operations.stats_summary())

    # -- change feed -----------------------------------------------------------------

    def watch(
        self,
        agent_name: str,
        since: str | ChangeEvent | None = None,
        timeout: float | None = None,
    ) -> AsyncWatch:
        """``async for event in mesh.watch(agent)``; see ``ContextMesh.watch``.

        As there, new changes count from this call: with ``since=None`` the
        stream's end is read by a task started now, without blocking the loop
        (see ``AsyncWatch``).
        """
        return AsyncWatch(self.store, self.operations, agent_name, since, timeout)

    # -- topics --------------------------------------------------------------------

    async def register_agent_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        return await self.run(self.operations.subscribe(agent_name, topics, replace=True))

    async def subscribe_to_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        return await self.run(self.operations.subscribe(agent_name, topics, replace=False))

    async def unsubscribe_from_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        return (await self.run(self.operations.unsubscribe(agent_name, topics))).removed

    async def get_topics_for_agent(self, agent_name: str) -> list[str]:
        return await self.run(self.operations.topics_for_agent(agent_name))

    async def get_subscribers_for_topic(self, topic: str) -> list[str]:
        return await self.run(self.operations.subscribers_for_topic(topic))

    async def get_all_topics(self) -> list[str]:
        return await self.run(self.operations.all_topics())

    async def delete_topic(self, topic: str) -> int:
        return (await self.delete_topic_report(topic)).items_deleted

    async def delete_topic_report(self, topic: str) -> TopicDeletion:
        return await self.run(self.operations.delete_topic(topic))

    # -- post permissions ------------------------------------------------------------

    async def set_agent_post_permissions(self, agent_name: str, allowed_topics: list[str]) -> None:
        await self.run(self.operations.set_post_permissions(agent_name, allowed_topics))

    async def get_agent_post_permissions(self, agent_name: str) -> list[str]:
        return await self.run(self.operations.get_agent_post_permissions(agent_name))

    async def can_agent_post_to_topic(self, agent_name: str, topic: str) -> bool:
        return await self.run(self.operations.can_post(agent_name, topic))

    # -- lifecycle ---------------------------------------------------------------------

    async def ping(self) -> bool:
        return await self.store.ping()

    async def health(self) -> HealthReport:
        """See ``ContextMesh.health``."""
        return await check_health_async(self.store, self.operations.keys.stream, self.db_backend)

    async def close(self) -> None:
        """Release this handle (the loop's shared pool stays for other meshes)."""
        # closing a snapshot backend flushes it (seconds at worst): not on the loop
        await asyncio.to_thread(self._release)

    async def __aenter__(self) -> AsyncContextMesh:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
