"""The change feed: ``mesh.watch(agent)`` yields typed events an agent may see.

Every change appends an event to the user's stream (``lua/_prelude.lua``
``emit``), which is the truth. A watcher reads it from its cursor with
``lua/watch.lua``, which also drops, server-side and in the same call, the
events of items the agent may not see at that moment. Between reads the
watcher sleeps on the user's sharded pub/sub wake channel (``wakeups.py``),
which is only a hint: every wake-up, re-subscription after a reconnect, or
``watch_poll_interval`` without one leads to a re-read from the cursor, so a
lost message or a dropped connection delays nothing by more than that
interval and loses nothing.

A watcher that resumes from an event the stream no longer holds (trimmed by
``stream_max_length`` / ``stream_max_age_seconds``, or an idle user's stream
expired) first receives ``ChangeEvent(type="gap")``: some events are lost, so
rebuild state from ``mesh.get_visible_items(agent)`` and carry on; later
events whose ``version`` is not above an item's are already reflected there.

A Redis restart or failover does not end a watch: failed reads are retried
with backoff (``watch_retry_max_delay``) from the cursor, a stream lost
meanwhile yields one ``gap``, and after ``watch_give_up_seconds`` without
Redis the watch raises ``SynthaConnectionError`` carrying ``resume_from``.

``since`` is an ``event_id`` (or the ``ChangeEvent`` itself, which also
carries its version and so detects gaps exactly), ``"0"`` for everything the
stream holds, or None for changes from now on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from syntha_redis.core import keys
from syntha_redis.core.codec import text
from syntha_redis.core.operations import MeshOperations
from syntha_redis.core.store import AsyncStore, Operation, ScriptCall, Store
from syntha_redis.exceptions import (
    SynthaConnectionError,
    SynthaError,
    SynthaTimeoutError,
    SynthaValidationError,
)
from syntha_redis.live.wakeups import AsyncWakeListener, WakeListener, backoff

__all__ = ["ChangeEvent", "EventType", "Watch", "AsyncWatch"]

EventType = Literal[
    "pushed",
    "updated",
    "deleted",
    "expired",
    "cleared",
    "subscribed",
    "permissions",
    "topic_deleted",
    "gap",
]

log = logging.getLogger("syntha_redis.events")

# Errors a watcher outlives by retrying: Redis restarting, failing over, overloaded.
TRANSIENT = (SynthaConnectionError, SynthaTimeoutError)

# Stream entries one watch.lua call scans: bounds the script's run time.
SCAN_BATCH = 500
_EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")


class ChangeEvent(BaseModel):
    """One change of the mesh, as a watcher sees it. Values are not included:
    fetch one with ``get_item(event.key, agent)`` if it is needed."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    event_id: str
    version: int
    key: str | None = None
    author: str | None = None
    topics: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = ()
    agent: str | None = None  # subscribed / permissions: whose topics
    topic: str | None = None  # topic_deleted
    expires_at: float | None = None  # pushed / updated with a TTL (s since the epoch)
    count: int | None = None  # topic_deleted: items deleted with it


def parse_event(event_id: Any, flat: list[Any]) -> ChangeEvent:
    """A ChangeEvent from a stream entry (fields are percent-encoded tokens)."""
    f = {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}
    expires = int(f.get("exp") or 0)
    return ChangeEvent(
        type=f["type"],  # type: ignore[arg-type]  # written only by lua/, checked by pydantic
        event_id=text(event_id),
        version=int(f["ver"]),
        key=keys.decode(f["key"]) if "key" in f else None,
        author=keys.decode(f["by"]) if f.get("by") else None,
        topics=keys.decode_csv(f.get("topics", "")),
        subscribers=keys.decode_csv(f.get("subs", "")),
        agent=keys.decode(f["agent"]) if "agent" in f else None,
        topic=keys.decode(f["topic"]) if "topic" in f else None,
        expires_at=expires / 1000 if expires else None,
        count=int(f["count"]) if "count" in f else None,
    )


@dataclass(frozen=True)
class Cursor:
    """Where a watcher is: the last event id read and, if known, its version."""

    event_id: str
    version: int | None


def _id_key(event_id: str) -> tuple[int, int]:
    """A stream id ("<ms>-<seq>") as numbers, to compare two ids."""
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


def cursor_from(since: str | ChangeEvent | None) -> Cursor:
    if since is None:
        return Cursor("$", None)
    if isinstance(since, ChangeEvent):
        return Cursor(since.event_id, since.version)
    if since in ("0", "0-0"):
        return Cursor("0-0", 0)
    if isinstance(since, str) and _EVENT_ID.fullmatch(since):
        return Cursor(since, None)
    raise SynthaValidationError(
        f"since must be an event id like '1700000000000-0', a ChangeEvent, '0' or None, "
        f"got {since!r:.80}",
        field="since",
        suggestions=["Pass the event_id of the last event you handled, or None for new events"],
    )


class WatchState:
    """Everything a watcher decides; ``Watch``/``AsyncWatch`` only do the I/O."""

    def __init__(
        self,
        ops: MeshOperations,
        agent_name: str,
        since: str | ChangeEvent | None,
        timeout: float | None,
    ) -> None:
        self.agent = ops.name_token(agent_name, "agent_name")
        self.cursor = cursor_from(since)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0
        ):
            raise SynthaValidationError(
                f"timeout must be a non-negative number of seconds or None, got {timeout!r}",
                field="timeout",
                suggestions=["Pass timeout=None to wait for events forever"],
            )
        self.timeout = timeout
        s = ops.settings
        self.poll = s.watch_poll_interval
        self.retry_max_delay = s.watch_retry_max_delay
        self.give_up = s.watch_give_up_seconds
        self.root = ops.keys.root
        self.pending: deque[ChangeEvent] = deque()
        self.more = False  # the last read stopped at SCAN_BATCH: read again at once
        self.clock = time.monotonic
        self._deadline: float | None = None
        self._down_since: float | None = None  # when reads started failing
        self._failures = 0

    def _call(self, cursor: Cursor) -> ScriptCall:
        version = "" if cursor.version is None else cursor.version
        return ScriptCall("watch", self.root, (self.agent, cursor.event_id, version, SCAN_BATCH))

    def watch(self) -> Operation[None]:
        """Read (and filter) the events after the cursor; queue the visible ones."""
        c = self.cursor
        reply = yield self._call(c)
        version = text(reply[1])
        self.cursor = Cursor(text(reply[0]), int(version) if version else None)
        if int(reply[2]):
            if int(reply[3]) == 0:
                # Nothing after the cursor, yet events are missing: the stream was lost
                # (Redis restarted empty, or restored older). Without a new cursor every
                # later read would report the same gap again. Version 0 reads on without
                # a gap check: from the cursor if the stream now reaches past it (events
                # written since the read above), else from the stream's start, where
                # the new events will be (already-seen ones may repeat after a gap).
                # Queued after this read: if it fails, the retry reports the gap once.
                end = yield self._call(Cursor("$", None))
                past = _id_key(text(end[0])) >= _id_key(c.event_id)
                self.cursor = Cursor(c.event_id if past else "0-0", 0)
            self.pending.append(
                ChangeEvent(type="gap", event_id=c.event_id, version=c.version or 0)
            )
        self.more = int(reply[3]) >= SCAN_BATCH
        for i in range(4, len(reply), 2):
            self.pending.append(parse_event(reply[i], reply[i + 1]))

    def pause(self) -> float | None:
        """Seconds to sleep before the next read, or None once ``timeout`` has passed."""
        if self.timeout is None:
            return self.poll
        remaining = self._remaining()
        return min(self.poll, remaining) if remaining > 0 else None

    def _remaining(self) -> float:
        now = self.clock()
        if self._deadline is None:
            self._deadline = now + (self.timeout or 0)
        return self._deadline - now

    def take(self) -> ChangeEvent:
        self._deadline = None  # the timeout counts from the last event handed out
        return self.pending.popleft()

    def recovered(self) -> None:
        """A read succeeded: the next failure starts a new outage."""
        self._down_since = None
        self._failures = 0

    def failed(self, error: SynthaError) -> float:
        """A read raised ``error``: the pause before trying again (backing off), or
        ``error`` itself for a cause that waiting cannot fix, or a
        SynthaConnectionError once Redis has been unreachable for
        ``watch_give_up_seconds`` (or past the watch's ``timeout``)."""
        if not isinstance(error, TRANSIENT):
            raise error
        now = self.clock()
        if self._down_since is None:
            self._down_since = now
        down = now - self._down_since
        over_timeout = self.timeout is not None and self._remaining() <= 0
        if over_timeout or (self.give_up is not None and down >= self.give_up):
            raise SynthaConnectionError(
                f"watch gave up after {down:.1f}s without Redis ({error.message}); "
                f"resume from event {self.cursor.event_id}",
                service="redis",
                cause=error,
                context={"resume_from": self.cursor.event_id},
                suggestions=[
                    f"Once Redis answers, watch again with since={self.cursor.event_id!r}: "
                    "no event after it is lost while the stream keeps it",
                    *error.suggestions,
                    "Raise watch_give_up_seconds (or set it to None) to keep retrying longer",
                ],
            ) from None
        self._failures += 1
        log.warning(
            "watch: %s; retrying from event %s (attempt %d)",
            error.message, self.cursor.event_id, self._failures,
        )
        pause = backoff(self._failures, self.retry_max_delay)
        if self.timeout is not None:
            pause = min(pause, max(self._remaining(), 0.0))
        return pause


class Watch(Iterator[ChangeEvent]):
    """Sync change feed of one agent; iterate it, close it (or use ``with``).

    It survives Redis restarts and failovers: reads that fail to connect are
    retried with backoff (up to ``watch_retry_max_delay`` apart) from the last
    event read, and a stream lost meanwhile yields a ``gap`` event. After
    ``watch_give_up_seconds`` without Redis it raises SynthaConnectionError,
    whose ``context["resume_from"]`` is the cursor to watch again from.
    """

    def __init__(
        self,
        store: Store,
        ops: MeshOperations,
        agent_name: str,
        since: str | ChangeEvent | None = None,
        timeout: float | None = None,
    ) -> None:
        self._state = WatchState(ops, agent_name, since, timeout)
        self._store = store
        # subscribe before the first read, so no change after that read goes unnoticed
        self._wake = WakeListener(store.client, ops.keys.wake_channel)
        if self._state.cursor.event_id == "$":
            # "new changes" means after watch() returned, not after the first next()
            try:
                store.run(self._state.watch())
            except BaseException:
                self._wake.close()
                raise

    @property
    def cursor(self) -> str:
        """The id of the last event read: pass it as ``since`` to resume."""
        return self._state.cursor.event_id

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> ChangeEvent:
        state = self._state
        while not state.pending:
            try:
                self._store.run(state.watch())
            except SynthaError as e:
                try:
                    time.sleep(state.failed(e))
                except SynthaError:
                    self.close()
                    raise
                continue
            state.recovered()
            if state.pending or state.more:
                continue
            pause = state.pause()
            if pause is None:
                self.close()
                raise StopIteration
            self._wake.wait(pause)
        return state.take()

    def close(self) -> None:
        self._wake.close()

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncWatch(AsyncIterator[ChangeEvent]):
    """Async change feed of one agent: ``async for event in mesh.watch(agent)``.

    Same semantics as ``Watch``. With ``since=None`` the stream's end is read
    by a task the store starts at the ``watch()`` call, ahead of the mesh's
    later calls (``AsyncStore.start``), so "new changes" count from then, as in
    the sync API, and the loop never blocks; ``__aenter__`` and the first
    ``__anext__`` wait for it.
    """

    def __init__(
        self,
        store: AsyncStore,
        ops: MeshOperations,
        agent_name: str,
        since: str | ChangeEvent | None = None,
        timeout: float | None = None,
    ) -> None:
        self._state = WatchState(ops, agent_name, since, timeout)
        self._store = store
        self._wake = AsyncWakeListener(store.client, ops.keys.wake_channel)
        self._starting: asyncio.Task[None] | None = None
        if self._state.cursor.event_id == "$":
            self._starting = store.start(self._state.watch())

    async def _started(self) -> None:
        """Wait for the start read. A failed one leaves the cursor at "$", so the
        next read of the stream's end is the first read of ``__anext__``, with its
        retries."""
        starting, self._starting = self._starting, None
        if starting is not None:
            try:
                await starting
            except SynthaError:
                pass

    @property
    def cursor(self) -> str:
        """The id of the last event read: pass it as ``since`` to resume."""
        return self._state.cursor.event_id

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> ChangeEvent:
        state = self._state
        await self._started()
        await self._wake.start()
        while not state.pending:
            try:
                await self._store.run(state.watch())
            except SynthaError as e:
                try:
                    await asyncio.sleep(state.failed(e))
                except SynthaError:
                    await self.aclose()
                    raise
                continue
            state.recovered()
            if state.pending or state.more:
                continue
            pause = state.pause()
            if pause is None:
                await self.aclose()
                raise StopAsyncIteration
            await self._wake.wait(pause)
        return state.take()

    async def aclose(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            self._starting = None
        await self._wake.close()

    async def __aenter__(self) -> AsyncWatch:
        await self._started()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
