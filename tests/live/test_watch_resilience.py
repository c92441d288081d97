"""Watches outlive a Redis restart: they back off, resume from their cursor, say
``gap`` when the stream was lost, and give up (with the id to resume from) after
``watch_give_up_seconds``. Each test owns a redis-server that it SIGKILLs and
restarts empty on the same port; the sync and the async watch are held to the
same outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from syntha_redis import ContextMesh, SynthaConnectionError
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.cli import main
from syntha_redis.live.events import ChangeEvent
from tests.support.servers import RedisProcess

FAST: dict[str, Any] = {
    "watch_retry_max_delay": 0.2, "watch_poll_interval": 0.1, "auto_cleanup": False
}


class RetrySeen(logging.Handler):
    """Set once a watch has logged a failed read it will retry: proof that it hit
    the outage (and did not just read after the restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying from event" in record.getMessage():
            self.event.set()


@pytest.fixture
def retry_seen() -> Iterator[threading.Event]:
    handler = RetrySeen()
    logger = logging.getLogger("syntha_redis.events")
    # the watch's warnings must reach the handler whatever level an earlier test
    # left on "syntha_redis" (tests/durability/fleet.py quiets it to ERROR)
    level = logger.level
    logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield handler.event
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def restart_empty(server: RedisProcess) -> None:
    server.kill(signal.SIGKILL)
    server.start()  # same port, no persistence: the stream is gone


def mesh_on(server: RedisProcess, **options: Any) -> ContextMesh:
    return ContextMesh(user_id="u", redis_url=server.url, **{**FAST, **options})


def kinds(events: list[ChangeEvent]) -> list[tuple[str, str | None]]:
    return [(e.type, e.key) for e in events]


def test_a_sync_watch_retries_through_a_restart_and_reports_the_gap(
    private_redis: RedisProcess, retry_seen: threading.Event
) -> None:
    mesh = mesh_on(private_redis)
    with mesh.watch("a", timeout=30) as watch:
        mesh.push("before", 1)
        assert next(watch).key == "before"
        private_redis.kill(signal.SIGKILL)
        seen: list[ChangeEvent] = []
        reader = threading.Thread(target=lambda: seen.extend([next(watch), next(watch)]))
        reader.start()
        assert retry_seen.wait(20), "the watch never hit the outage"
        private_redis.start()
        mesh.push("after", 2)
        reader.join(30)
    assert kinds(seen) == [("gap", None), ("pushed", "after")]


async def test_an_async_watch_retries_through_a_restart_and_reports_the_gap(
    private_redis: RedisProcess, retry_seen: threading.Event
) -> None:
    async with AsyncContextMesh(user_id="u", redis_url=private_redis.url, **FAST) as mesh:
        async with mesh.watch("a", timeout=30) as watch:
            await mesh.push("before", 1)
            assert (await watch.__anext__()).key == "before"
            private_redis.kill(signal.SIGKILL)

            async def two() -> list[ChangeEvent]:
                return [await watch.__anext__(), await watch.__anext__()]

            reading = asyncio.create_task(two())
            assert await asyncio.to_thread(retry_seen.wait, 20), "never hit the outage"
            await asyncio.to_thread(private_redis.start)
            await mesh.push("after", 2)
            seen = await asyncio.wait_for(reading, 30)
    assert kinds(seen) == [("gap", None), ("pushed", "after")]


def test_a_lost_stream_is_one_gap_not_one_per_read(private_redis: RedisProcess) -> None:
    mesh = mesh_on(private_redis)
    mesh.push("before", 1)
    cursor = list(mesh.watch("a", since="0", timeout=0))[-1]
    restart_empty(private_redis)
    # ~5 reads in this half second: the stream stays empty, the gap is told once
    assert kinds(list(mesh.watch("a", since=cursor, timeout=0.5))) == [("gap", None)]


def test_after_the_gap_the_watch_follows_the_new_stream(private_redis: RedisProcess) -> None:
    mesh = mesh_on(private_redis)
    mesh.push("before", 1)
    with mesh.watch("a", since="0", timeout=5) as watch:
        assert next(watch).key == "before"
        restart_empty(private_redis)
        assert next(watch).type == "gap"
        mesh.push("x", 1)
        mesh.push("y", 2)
        assert [next(watch).key, next(watch).key] == ["x", "y"]


def test_a_sync_watch_gives_up_with_the_id_to_resume_from(private_redis: RedisProcess) -> None:
    mesh = mesh_on(private_redis, watch_give_up_seconds=0.5)
    mesh.push("before", 1)
    watch = mesh.watch("a", since="0")
    handled = next(watch)
    private_redis.kill(signal.SIGKILL)
    with pytest.raises(SynthaConnectionError) as caught:
        next(watch)
    assert caught.value.context["resume_from"] == handled.event_id == watch.cursor
    assert handled.event_id in caught.value.message
    assert "since=" in (caught.value.suggestion or "")
    # resuming from it after the restart loses nothing that is still knowable
    private_redis.start()
    mesh.push("after", 2)
    events = list(mesh.watch("a", since=caught.value.context["resume_from"], timeout=0))
    assert kinds(events) == [("gap", None), ("pushed", "after")]


async def test_an_async_watch_gives_up_with_the_id_to_resume_from(
    private_redis: RedisProcess,
) -> None:
    async with AsyncContextMesh(
        user_id="u", redis_url=private_redis.url, watch_give_up_seconds=0.5, **FAST
    ) as mesh:
        await mesh.push("before", 1)
        watch = mesh.watch("a", since="0")
        handled = await watch.__anext__()
        private_redis.kill(signal.SIGKILL)
        with pytest.raises(SynthaConnectionError) as caught:
            await watch.__anext__()
    assert caught.value.context["resume_from"] == handled.event_id


def test_a_watch_with_a_timeout_gives_up_by_its_timeout(private_redis: RedisProcess) -> None:
    # timeout bounds the wait even when Redis is down: an error, not a silent end
    mesh = mesh_on(private_redis, watch_give_up_seconds=None)
    watch = mesh.watch("a", timeout=0.3)
    private_redis.kill(signal.SIGKILL)
    with pytest.raises(SynthaConnectionError, match="watch gave up"):
        next(watch)


def test_watching_a_dead_server_fails_at_the_call(private_redis: RedisProcess) -> None:
    mesh = mesh_on(private_redis)
    private_redis.kill(signal.SIGKILL)
    with pytest.raises(SynthaConnectionError):
        mesh.watch("a")


def test_cli_watch_prints_the_resume_id_when_it_gives_up(
    private_redis: RedisProcess,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mesh = mesh_on(private_redis)
    mesh.push("before", 1)
    last = list(mesh.watch("a", since="0", timeout=0))[-1]
    monkeypatch.setenv("SYNTHA_WATCH_GIVE_UP_SECONDS", "0.3")
    monkeypatch.setenv("SYNTHA_WATCH_RETRY_MAX_DELAY", "0.1")
    timer = threading.Timer(0.5, private_redis.kill, args=(signal.SIGKILL,))
    timer.start()
    try:
        code = main(["watch", "--redis-url", private_redis.url, "--user", "u",
                     "--agent", "a", "--since", "0"])
    finally:
        timer.join()
    out, err = capsys.readouterr()
    assert code == 2
    assert '"key":"before"' in out
    assert f"resume with --since {last.event_id}" in err
    assert "error: watch gave up" in err and "Traceback" not in err


def test_cli_watch_prints_the_resume_id_when_its_timeout_ends(
    private_redis: RedisProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    mesh = mesh_on(private_redis)
    mesh.push("before", 1)
    last = list(mesh.watch("a", since="0", timeout=0))[-1]
    code = main(["watch", "--redis-url", private_redis.url, "--user", "u", "--agent", "a",
                 "--since", "0", "--timeout", "0"])
    assert code == 0
    assert f"resume with --since {last.event_id}" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_watch_prints_the_resume_id_when_it_is_stopped(
    private_redis: RedisProcess, sig: signal.Signals
) -> None:
    import subprocess
    import sys

    mesh = mesh_on(private_redis)
    mesh.push("before", 1)
    last = list(mesh.watch("a", since="0", timeout=0))[-1]
    watcher = subprocess.Popen(
        [sys.executable, "-m", "syntha_redis.cli", "watch", "--redis-url", private_redis.url,
         "--user", "u", "--agent", "a", "--since", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert watcher.stdout is not None
        assert '"key":"before"' in watcher.stdout.readline()  # it is running and caught up
        watcher.send_signal(sig)
        _, err = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0
    assert f"resume with --since {last.event_id}" in err and "Traceback" not in err
