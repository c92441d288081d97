"""Logging: Syntha's getters and configure_logging, structured fields, env configuration."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import syntha_redis.logging as slog
from syntha_redis import SynthaConfigurationError
from syntha_redis.logging import (
    configure_logging,
    get_context_logger,
    get_logger,
    get_performance_logger,
    get_security_logger,
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger("syntha_redis")
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    for handler in slog._installed:
        handler.close()
    slog._installed.clear()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_loggers_live_under_syntha_redis() -> None:
    assert get_logger().name == "syntha_redis"
    assert get_logger("tools").name == "syntha_redis.tools"
    assert get_logger("syntha_redis.tools").name == "syntha_redis.tools"
    assert get_security_logger().logger.name == "syntha_redis.security"
    assert get_performance_logger("db").logger.name == "syntha_redis.performance.db"


def test_getters_work_without_a_name_as_the_seed_calls_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        get_context_logger().info("Agent created", extra={"agent_name": "A"})
        get_performance_logger().info("done", extra={"duration_ms": 1.0})
        get_security_logger().info("action", extra={"action": "push_context"})
    records = {r.getMessage(): r for r in caplog.records}
    assert records["Agent created"].agent_name == "A"  # type: ignore[attr-defined]
    assert records["done"].duration_ms == 1.0  # type: ignore[attr-defined]
    assert records["action"].action == "push_context"  # type: ignore[attr-defined]
    assert all(r.name.startswith("syntha") for r in records.values())


def test_json_log_file_carries_extra_fields(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "syntha.jsonl"
    configure_logging(
        level=logging.INFO,
        format="json",
        include_context=True,
        log_file=str(log_file),
        enable_console=False,
    )
    get_context_logger(agent_name="Sales").info("Tool call", extra={"tool_name": "push_context"})
    [entry] = _json_lines(log_file)
    assert entry["message"] == "Tool call" and entry["level"] == "INFO"
    assert entry["tool_name"] == "push_context" and entry["agent_name"] == "Sales"


def test_keyword_arguments_become_the_records_context(tmp_path: Path) -> None:
    log_file = tmp_path / "s.log"
    configure_logging(format_type="json", log_file=str(log_file), enable_console=False)
    logger = get_context_logger("ctx")
    logger.set_context(user_id="u1")
    logger.warning("pushed", key="deal")
    assert _json_lines(log_file)[0]["context"] == {"user_id": "u1", "key": "deal"}


def test_include_context_false_drops_extra_fields(tmp_path: Path) -> None:
    log_file = tmp_path / "s.log"
    configure_logging(
        format="json", include_context=False, log_file=str(log_file), enable_console=False
    )
    get_logger("x").info("m", extra={"secret_detail": 1})
    assert "secret_detail" not in _json_lines(log_file)[0]


def test_level_filters_records(tmp_path: Path) -> None:
    log_file = tmp_path / "s.log"
    configure_logging("WARNING", "json", str(log_file), enable_console=False)
    get_logger("x").info("quiet")
    get_logger("x").warning("loud")
    assert [e["message"] for e in _json_lines(log_file)] == ["loud"]


def test_detailed_format_shows_fields_and_location(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(format_type="detailed")
    get_logger("x").info("hello", extra={"agent_name": "A"})
    line = capsys.readouterr().err
    assert "[syntha_redis.x] hello | agent_name=A [test_logging:" in line


def test_reconfiguring_replaces_only_its_own_handlers() -> None:
    root = logging.getLogger("syntha_redis")
    mine = logging.NullHandler()
    root.addHandler(mine)
    configure_logging()
    configure_logging()
    assert mine in root.handlers
    assert len([h for h in root.handlers if isinstance(h, logging.StreamHandler)]) == 1


@pytest.mark.parametrize("options", [{"level": "LOUD"}, {"format": "xml"}])
def test_bad_configuration_is_a_configuration_error(options: dict[str, str]) -> None:
    with pytest.raises(SynthaConfigurationError) as caught:
        configure_logging(**options)  # type: ignore[arg-type]
    assert caught.value.suggestion


def test_performance_timer_measures_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    perf = get_performance_logger("t")
    with caplog.at_level(logging.INFO, logger="syntha_redis.performance"):
        timer = perf.start_timer("push", key="k")
        duration = perf.end_timer(timer, items=1)
    assert duration is not None and duration >= 0
    metrics = caplog.records[-1].metrics  # type: ignore[attr-defined]
    assert metrics["operation"] == "push" and metrics["items"] == 1
    assert metrics["duration_ms"] == pytest.approx(duration * 1000)


def test_performance_timer_context_manager_logs_added_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="syntha_redis.performance"):
        with get_performance_logger().timer("batch") as metrics:
            metrics["count"] = 3
    assert caplog.records[-1].metrics["count"] == 3  # type: ignore[attr-defined]


def test_timers_started_together_do_not_collide() -> None:
    perf = get_performance_logger()
    first, second = perf.start_timer("op"), perf.start_timer("op")
    assert first != second
    assert perf.end_timer(first) is not None and perf.end_timer(second) is not None
    assert perf.end_timer(first) is None


def test_security_events_map_severity_to_level(caplog: pytest.LogCaptureFixture) -> None:
    security = get_security_logger()
    with caplog.at_level(logging.INFO, logger="syntha_redis.security"):
        security.log_security_event("probe", "HIGH", "bad thing", agent_name="A", ip="x")
        security.log_access_attempt("A", "tool:get_context", success=True)
    high, granted = caplog.records[-2:]
    assert high.levelno == logging.ERROR
    assert high.security_context == {  # type: ignore[attr-defined]
        "event_type": "probe",
        "severity": "HIGH",
        "ip": "x",
        "agent_name": "A",
    }
    assert granted.levelno == logging.INFO
    assert granted.security_context["event_type"] == "access_granted"  # type: ignore[attr-defined]


def test_environment_configures_logging_on_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = tmp_path / "env.log"
    monkeypatch.setenv("SYNTHA_LOG_FORMAT", "json")
    monkeypatch.setenv("SYNTHA_LOG_FILE", str(log_file))
    monkeypatch.setenv("SYNTHA_LOG_CONSOLE", "false")
    importlib.reload(slog)
    slog.get_logger("env").info("from env")
    assert _json_lines(log_file)[0]["message"] == "from env"


def test_bad_environment_warns_instead_of_breaking_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNTHA_LOG_LEVEL", "LOUD")
    with pytest.warns(UserWarning, match="SYNTHA_LOG_"):
        importlib.reload(slog)
