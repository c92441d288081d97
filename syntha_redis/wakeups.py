"""Wake-ups: sleep until the user's sharded pub/sub channel says "something changed".

Scripts ``SPUBLISH`` the new event id on ``<root>wake`` after each change.
Pub/sub is at-most-once, so these listeners are only an optimisation of
``events.Watch``: any message, including the re-subscription that redis-py
performs after a reconnect, ends the sleep and the watcher re-reads the
stream from its cursor. If the subscription itself fails the listener
degrades to plain sleeping (polling at ``watch_poll_interval``), and tries to
subscribe again on the next wait.

SSUBSCRIBE (Redis 7) hashes the channel like a key, so on Redis Cluster the
subscription lands on the node that owns the user's slot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis
from redis.exceptions import RedisClusterException

__all__ = ["WakeListener", "AsyncWakeListener"]

log = logging.getLogger("syntha_redis.events")

# What a failed subscription or wait raises (a cluster client may raise the
# RedisClusterException, which is not a RedisError, when no node answers).
FAILED = (redis.RedisError, RedisClusterException, OSError)

# Queued wake-ups drained after one: a burst of writes costs one re-read, not one
# per write. Bounded so a constant stream of messages cannot starve the reader.
DRAIN_LIMIT = 1000


def backoff(failures: int, ceiling: float) -> float:
    """Pause before re-subscribing after ``failures`` failures in a row: a refused
    SSUBSCRIBE (e.g. NOPERM) must not turn the watcher into a busy loop."""
    return min(ceiling, 0.05 * float(2 ** min(failures, 10)))


class WakeListener:
    """Sync listener on one channel, on its own connection of ``client``."""

    def __init__(self, client: Any, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pubsub: Any = None
        self._closed = False
        self._failures = 0
        self._subscribe()

    def _subscribe(self) -> None:
        try:
            pubsub = self._client.pubsub()
            pubsub.ssubscribe(self._channel)
        except FAILED as e:
            log.warning("watch: no wake-up subscription (%s); polling instead", e)
            return
        self._pubsub = pubsub

    def wait(self, seconds: float) -> None:
        """Return after a wake-up or after ``seconds``, whichever comes first."""
        if self._pubsub is None:
            time.sleep(seconds)
            if not self._closed:
                self._subscribe()
            return
        try:
            message = self._pubsub.get_sharded_message(timeout=seconds)
            self._failures = 0
            if message is None:
                return
            for _ in range(DRAIN_LIMIT):
                if self._pubsub.get_sharded_message(timeout=0) is None:
                    return
        except FAILED as e:
            # redis-py's own reconnect retries are spent; the caller re-reads the stream
            log.warning("watch: wake-up connection lost (%s); re-subscribing", e)
            self._drop()
            time.sleep(backoff(self._failures, seconds))
            self._failures += 1
            self._subscribe()

    def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except FAILED:
                pass  # the connection is being discarded anyway

    def close(self) -> None:
        self._closed = True
        self._drop()


class AsyncWakeListener:
    """Asyncio twin of ``WakeListener``; ``start()`` subscribes (idempotent)."""

    def __init__(self, client: Any, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pubsub: Any = None
        self._started = False
        self._closed = False
        self._failures = 0

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self._subscribe()

    async def _subscribe(self) -> None:
        try:
            pubsub = self._client.pubsub()
            await pubsub.ssubscribe(self._channel)
        except FAILED as e:
            log.warning("watch: no wake-up subscription (%s); polling instead", e)
            return
        self._pubsub = pubsub

    async def wait(self, seconds: float) -> None:
        if self._pubsub is None:
            await asyncio.sleep(seconds)
            if not self._closed:
                await self._subscribe()
            return
        try:
            message = await self._pubsub.get_message(timeout=seconds)
            self._failures = 0
            if message is None:
                return
            for _ in range(DRAIN_LIMIT):
                if await self._pubsub.get_message(timeout=0) is None:
                    return
        except FAILED as e:
            log.warning("watch: wake-up connection lost (%s); re-subscribing", e)
            await self._drop()
            await asyncio.sleep(backoff(self._failures, seconds))
            self._failures += 1
            await self._subscribe()

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except FAILED:
                pass

    async def close(self) -> None:
        self._started = True  # a closed listener never subscribes again
        self._closed = True
        await self._drop()
