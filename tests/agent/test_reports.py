"""OutcomeLogger: one behaviour suite run on every storage, plus what only Redis does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import syntha_redis.reports as reports
from syntha_redis import SynthaConfigurationError, SynthaConnectionError
from syntha_redis.core import keys
from syntha_redis.core.config import Settings
from syntha_redis.reports import OutcomeLogger

Factory = Callable[[], OutcomeLogger]


@pytest.fixture(params=["memory", "file", "sqlite", "redis"])
def make_logger(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str | None
) -> Iterator[Factory]:
    """A factory of loggers sharing one storage (each call = another worker)."""
    storage = request.param
    namespace = f"test-{uuid.uuid4().hex}"
    shared: list[OutcomeLogger] = []

    def make() -> OutcomeLogger:
        if storage == "memory":
            if not shared:
                shared.append(OutcomeLogger())
            return shared[0]  # memory is per process: one logger stands for all
        return OutcomeLogger(
            storage,
            file_path=str(tmp_path / "outcomes.jsonl"),
            db_path=str(tmp_path / "outcomes.db"),
            redis_url=redis_url,
            namespace=namespace,
        )

    yield make
    make().clear_outcomes()


@pytest.fixture
def outcomes(make_logger: Factory) -> OutcomeLogger:
    return make_logger()


def test_logged_outcomes_come_back_newest_first(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("Sales", "quote", True, duration_seconds=1.5, metadata={"n": 1})
    outcomes.log_outcome("Sales", "email", False, error_message="bounced")
    recent = outcomes.get_recent_outcomes()
    assert [o.task_type for o in recent] == ["email", "quote"]
    assert recent[1].metadata == {"n": 1} and recent[1].duration_seconds == 1.5
    assert recent[0].success is False and recent[0].error_message == "bounced"


def test_recent_outcomes_filter_by_agent_and_task(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("Sales", "quote", True)
    outcomes.log_outcome("Support", "quote", True)
    outcomes.log_outcome("Sales", "email", True)
    assert len(outcomes.get_recent_outcomes(agent_name="Sales")) == 2
    assert [o.agent_name for o in outcomes.get_recent_outcomes(task_type="email")] == ["Sales"]


def test_performance_metrics(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("Sales", "quote", True, duration_seconds=1.0)
    outcomes.log_outcome("Sales", "quote", False, duration_seconds=3.0)
    outcomes.log_outcome("Support", "ticket", True)
    metrics = outcomes.get_performance_metrics()
    assert metrics["total_tasks"] == 3 and metrics["successful_tasks"] == 2
    assert metrics["failed_tasks"] == 1
    assert metrics["success_rate"] == pytest.approx(2 / 3)
    assert metrics["error_rate"] == pytest.approx(1 / 3)
    assert metrics["average_duration"] == 2.0
    assert metrics["tasks_by_type"]["quote"] == {"total": 2, "successful": 1}
    assert metrics["agents_summary"]["Support"] == {"total": 1, "successful": 1}
    assert metrics["time_period_hours"] == 24


def test_metrics_of_nothing_have_every_key(outcomes: OutcomeLogger) -> None:
    metrics = outcomes.get_performance_metrics()
    assert metrics["total_tasks"] == 0 and metrics["success_rate"] == 0.0
    assert set(metrics) >= {"successful_tasks", "failed_tasks", "agents_summary"}


def test_metrics_for_one_agent_have_no_agent_summary(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("Sales", "quote", True)
    outcomes.log_outcome("Support", "quote", True)
    metrics = outcomes.get_performance_metrics(agent_name="Sales")
    assert metrics["total_tasks"] == 1 and metrics["agents_summary"] == {}


def test_clear_all_outcomes_returns_the_count(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("A", "t", True)
    outcomes.log_outcome("A", "t", True)
    assert outcomes.clear_outcomes() == 2
    assert outcomes.get_recent_outcomes() == []


def test_clear_older_than_keeps_recent_outcomes(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("A", "t", True)
    assert outcomes.clear_outcomes(older_than_hours=1) == 0
    assert len(outcomes.get_recent_outcomes()) == 1


def test_a_window_in_the_future_excludes_everything(outcomes: OutcomeLogger) -> None:
    outcomes.log_outcome("A", "t", True)
    assert outcomes.get_recent_outcomes(hours=-1) == []


def test_unserialisable_details_are_logged_as_text(
    outcomes: OutcomeLogger, request: pytest.FixtureRequest
) -> None:
    outcomes.log_outcome("A", "t", True, output_data={"when": object, "n": 1})
    [outcome] = outcomes.get_recent_outcomes()
    if request.node.callspec.params["make_logger"] == "memory":
        assert outcome.output_data == {"when": object, "n": 1}  # kept as given, never encoded
    else:
        assert outcome.output_data == {"when": str(object), "n": 1}


def test_workers_share_outcomes(make_logger: Factory) -> None:
    make_logger().log_outcome("A", "t", True)
    make_logger().log_outcome("B", "t", False)
    assert make_logger().get_performance_metrics()["total_tasks"] == 2


def test_redis_storage_is_bounded(redis_url: str | None) -> None:
    namespace = f"bounded-{uuid.uuid4().hex}"
    outcomes = OutcomeLogger("redis", redis_url=redis_url, namespace=namespace, max_outcomes=10)
    try:
        for i in range(500):
            outcomes.log_outcome("A", f"t{i}", True)
        kept = [o.task_type for o in outcomes.get_recent_outcomes()]
        # XADD MAXLEN ~ trims whole stream nodes: the cap, plus at most one node
        # (stream-node-max-entries, 100 by default) of older outcomes
        assert 10 <= len(kept) <= 10 + 100
        assert kept == [f"t{i}" for i in range(499, 499 - len(kept), -1)]  # the newest
    finally:
        outcomes.clear_outcomes()


@pytest.mark.parametrize("namespace", ["plain", "ns}{*:item:x", "a b/ü"])
def test_redis_storage_writes_one_stream_per_namespace_under_the_prefix(
    redis_url: str | None, raw: Any, namespace: str
) -> None:
    namespace = f"{namespace}-{uuid.uuid4().hex}"
    outcomes = OutcomeLogger("redis", redis_url=redis_url, namespace=namespace)
    try:
        outcomes.log_outcome("A", "t", True)
        stream = keys.outcomes_stream(Settings.from_env().key_prefix, namespace)
        assert raw.xlen(stream) == 1
    finally:
        outcomes.clear_outcomes()


def test_old_outcomes_age_out_of_memory_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = OutcomeLogger()
    monkeypatch.setattr(reports.time, "time", lambda: 1_000.0)
    outcomes.log_outcome("A", "t", True)
    monkeypatch.setattr(reports.time, "time", lambda: 1_000.0 + 2 * 3600)
    assert outcomes.get_recent_outcomes(hours=1) == []
    assert outcomes.clear_outcomes(older_than_hours=1) == 1


@pytest.mark.parametrize(
    ("storage", "missing"), [("file", "file_path"), ("sqlite", "db_path"), ("cloud", "storage")]
)
def test_misconfigured_storage_is_a_configuration_error(storage: str, missing: str) -> None:
    with pytest.raises(SynthaConfigurationError, match=missing) as caught:
        OutcomeLogger(storage)
    assert caught.value.suggestion


def test_outcome_round_trips_through_a_dict() -> None:
    outcome = reports.AgentOutcome(time.time(), "A", "t", True, metadata={"k": 1})
    assert reports.AgentOutcome.from_dict(outcome.to_dict()) == outcome


def test_an_unreachable_redis_is_a_connection_error_naming_the_server() -> None:
    outcomes = OutcomeLogger("redis", redis_url="redis://127.0.0.1:1/0",
                             namespace=f"down-{uuid.uuid4().hex}")
    with pytest.raises(SynthaConnectionError) as info:
        outcomes.log_outcome("A", "t", True)
    assert "127.0.0.1:1" in info.value.message + str(info.value.suggestion)
