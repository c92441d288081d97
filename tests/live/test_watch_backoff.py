"""How a watcher paces its retries and when it gives up (on a controlled clock), and
where it carries on after its stream was lost (on scripted replies)."""

from __future__ import annotations

import pytest

from syntha_redis.core.config import Settings
from syntha_redis.core.operations import MeshOperations
from syntha_redis.exceptions import (
    SynthaConnectionError,
    SynthaPermissionError,
    SynthaTimeoutError,
)
from syntha_redis.live.events import Cursor, WatchState

DOWN = SynthaConnectionError("cannot reach Redis", suggestions=["Check the server"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(timeout: float | None = None, **settings: object) -> tuple[WatchState, Clock]:
    ops = MeshOperations(Settings(**settings), "u")  # type: ignore[arg-type]
    watch = WatchState(ops, "agent", "1700000000000-0", timeout)
    clock = Clock()
    watch.clock = clock
    return watch, clock


def test_retries_back_off_up_to_the_configured_ceiling() -> None:
    watch, clock = state(watch_retry_max_delay=1.0, watch_give_up_seconds=None)
    pauses = []
    for _ in range(8):
        pauses.append(watch.failed(DOWN))
        clock.now += pauses[-1]
    assert pauses == sorted(pauses) and pauses[0] > 0 and pauses[-1] == 1.0


def test_a_success_resets_the_backoff() -> None:
    watch, clock = state(watch_retry_max_delay=10.0, watch_give_up_seconds=None)
    first = watch.failed(DOWN)
    watch.failed(DOWN)
    watch.recovered()
    assert watch.failed(DOWN) == first


def test_it_gives_up_once_redis_was_away_for_the_give_up_time() -> None:
    watch, clock = state(watch_give_up_seconds=30)
    watch.failed(DOWN)
    clock.now += 29.9
    watch.failed(SynthaTimeoutError("slow"))  # timeouts are retried too
    clock.now += 0.1
    with pytest.raises(SynthaConnectionError) as caught:
        watch.failed(DOWN)
    assert caught.value.context["resume_from"] == "1700000000000-0"
    assert caught.value.cause is DOWN and "Check the server" in caught.value.suggestions


def test_the_give_up_time_counts_from_the_first_failure_of_an_outage() -> None:
    watch, clock = state(watch_give_up_seconds=30)
    watch.failed(DOWN)
    clock.now += 25
    watch.recovered()
    clock.now += 25
    assert watch.failed(DOWN) > 0  # a new outage: 0 s old, not 50
    clock.now += 25
    assert watch.failed(DOWN) > 0  # 25 s into it: still retrying
    clock.now += 5
    with pytest.raises(SynthaConnectionError, match="gave up"):
        watch.failed(DOWN)


def test_none_means_never_give_up() -> None:
    watch, clock = state(watch_give_up_seconds=None)
    pauses = []
    for _ in range(100):
        clock.now += 3600
        pauses.append(watch.failed(DOWN))
    assert all(p > 0 for p in pauses)


def test_errors_that_waiting_cannot_fix_are_raised_at_once() -> None:
    watch, _ = state()
    refused = SynthaPermissionError("NOPERM")
    with pytest.raises(SynthaPermissionError):
        watch.failed(refused)


def test_the_watch_timeout_bounds_the_retries_too() -> None:
    watch, clock = state(timeout=2.0, watch_retry_max_delay=5.0, watch_give_up_seconds=None)
    pause = watch.failed(DOWN)
    assert pause <= 2.0
    clock.now += 2.0
    with pytest.raises(SynthaConnectionError, match="gave up"):
        watch.failed(DOWN)


@pytest.mark.parametrize("timeout", [-1, float("nan"), "5", True])
def test_a_bad_timeout_is_refused(timeout: object) -> None:
    from syntha_redis.exceptions import SynthaValidationError

    with pytest.raises(SynthaValidationError):
        state(timeout=timeout)  # type: ignore[arg-type]


# -- where a watcher carries on after its stream was lost (replies scripted) ----------


def after_lost_stream(stream_end: str) -> tuple[list[str], str, int | None]:
    """Drive one read whose cursor 1700000000000-5 (version 42) is gone and nothing
    follows it, then the stream's end is ``stream_end``: (events, cursor, version)."""
    watch, _ = state()
    watch.cursor = Cursor("1700000000000-5", 42)
    read = watch.watch()
    first = next(read)
    assert first.args[1:3] == ("1700000000000-5", 42)
    end_call = read.send([b"1700000000000-5", b"42", 1, 0])  # gap, nothing scanned
    assert end_call.args[1] == "$"
    with pytest.raises(StopIteration):
        read.send([stream_end.encode(), b"7"])
    return [e.type for e in watch.pending], watch.cursor.event_id, watch.cursor.version


def test_a_stream_restarted_empty_is_read_from_its_start() -> None:
    assert after_lost_stream("0-0") == (["gap"], "0-0", 0)


def test_a_stream_restored_older_is_read_from_its_start() -> None:
    assert after_lost_stream("1600000000000-0") == (["gap"], "0-0", 0)


def test_events_written_since_the_gap_read_are_not_skipped() -> None:
    # the stream already reaches past the cursor: carry on from the cursor, unchecked
    assert after_lost_stream("1700000000001-0") == (["gap"], "1700000000000-5", 0)
