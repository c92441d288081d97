"""Structured logging for syntha_redis (Syntha's ``syntha.logging`` API).

Every logger lives under ``syntha_redis``; security events under
``syntha_redis.security``, timers under ``syntha_redis.performance``, so an
application can route them separately. The library never installs handlers
by itself unless asked: call :func:`configure_logging` or set a
``SYNTHA_LOG_*`` variable (``LEVEL``, ``FORMAT``, ``FILE``, ``CONSOLE``,
``INCLUDE_CONTEXT``, ``MAX_SIZE``, ``BACKUP_COUNT``), which is read on import.

Loggers accept the standard ``extra={...}`` and also keyword arguments
(``log.info("pushed", key="k")``), which land in the record's ``context``;
the JSON format writes every extra field.
"""

from __future__ import annotations

import itertools
import json
import logging
import logging.handlers
import os
import sys
import time
import warnings
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from syntha_redis.exceptions import SynthaConfigurationError

__all__ = [
    "ROOT_LOGGER",
    "SynthaFormatter",
    "ContextLogger",
    "PerformanceLogger",
    "SecurityLogger",
    "get_logger",
    "get_context_logger",
    "get_performance_logger",
    "get_security_logger",
    "configure_logging",
    "configure_from_env",
]

ROOT_LOGGER = "syntha_redis"
FORMATS = ("standard", "detailed", "json")
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_STANDARD_KWARGS = ("exc_info", "stack_info", "stacklevel")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class SynthaFormatter(logging.Formatter):
    """``standard`` (time, level, message), ``detailed`` (+ fields, location) or ``json``."""

    def __init__(self, format_type: str = "standard", include_context: bool = True) -> None:
        super().__init__()
        self.format_type = format_type
        self.include_context = include_context

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record) if self.include_context else {}
        if self.format_type == "json":
            data: dict[str, Any] = {
                "timestamp": datetime.fromtimestamp(record.created).isoformat(),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
                **extras,
            }
            if record.exc_info:
                data["exception"] = self.formatException(record.exc_info)
            return json.dumps(data, default=str)
        stamp = datetime.fromtimestamp(record.created)
        if self.format_type == "standard":
            return f"[{stamp:%H:%M:%S}] [{record.levelname:5}] {record.getMessage()}"
        text = f"[{stamp:%Y-%m-%d %H:%M:%S}] [{record.levelname:8}] [{record.name}] "
        text += record.getMessage()
        if extras:
            text += " | " + " | ".join(f"{k}={v}" for k, v in extras.items())
        text += f" [{record.module}:{record.funcName}:{record.lineno}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StructuredAdapter(logging.LoggerAdapter[logging.Logger]):
    """Merges ``extra=`` with bound fields; other keyword arguments become ``context``."""

    def __init__(self, logger: logging.Logger, agent_name: str | None = None) -> None:
        super().__init__(logger, {})
        self.agent_name = agent_name
        self.context: dict[str, Any] = {}

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        passed = {k: kwargs.pop(k) for k in _STANDARD_KWARGS if k in kwargs}
        extra = dict(kwargs.pop("extra", None) or {})
        context = {**self.context, **kwargs}
        if context:
            extra.setdefault("context", context)
        if self.agent_name:
            extra.setdefault("agent_name", self.agent_name)
        return msg, {**passed, "extra": extra}


class ContextLogger(_StructuredAdapter):
    """A logger that stamps an agent name and bound context on every record."""

    def set_context(self, **fields: Any) -> None:
        self.context.update(fields)

    def clear_context(self) -> None:
        self.context.clear()


class PerformanceLogger(_StructuredAdapter):
    """Timers and metrics: ``with perf.timer("push"):`` or ``start_timer``/``end_timer``."""

    _ids = itertools.count(1)

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger)
        self.timers: dict[str, tuple[str, float]] = {}

    def start_timer(self, operation: str, **context: Any) -> str:
        """Start timing ``operation``; returns the id to pass to :meth:`end_timer`."""
        timer_id = f"{operation}-{next(self._ids)}"
        self.timers[timer_id] = (operation, time.perf_counter())
        self.debug(
            f"Started operation: {operation}",
            extra={"metrics": {"operation": operation, "timer_id": timer_id}},
            **context,
        )
        return timer_id

    def end_timer(self, timer_id: str, **metrics: Any) -> float | None:
        """Log and return the seconds since ``start_timer`` (None for an unknown id)."""
        started = self.timers.pop(timer_id, None)
        if started is None:
            self.warning(f"Timer {timer_id} not found")
            return None
        operation, start = started
        duration = time.perf_counter() - start
        self.info(
            f"Completed operation {operation} in {duration:.3f}s",
            extra={
                "metrics": {
                    "operation": operation,
                    "timer_id": timer_id,
                    "duration_seconds": duration,
                    "duration_ms": duration * 1000,
                    **metrics,
                }
            },
        )
        return duration

    @contextmanager
    def timer(self, operation: str, **context: Any) -> Iterator[dict[str, Any]]:
        """Time the block; metrics added to the yielded dict are logged with it."""
        metrics: dict[str, Any] = {}
        timer_id = self.start_timer(operation, **context)
        try:
            yield metrics
        finally:
            self.end_timer(timer_id, **metrics)

    def log_metrics(self, operation: str, metrics: dict[str, Any], **context: Any) -> None:
        self.info(
            f"Metrics for {operation}",
            extra={"metrics": {"operation": operation, **metrics}},
            **context,
        )


_SEVERITY_LEVELS = {
    "LOW": logging.INFO,
    "MEDIUM": logging.WARNING,
    "HIGH": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


class SecurityLogger(_StructuredAdapter):
    """Security events as records with a ``security_context`` dict."""

    def log_security_event(
        self,
        event_type: str,
        severity: str,
        description: str,
        agent_name: str | None = None,
        **context: Any,
    ) -> None:
        fields: dict[str, Any] = {"event_type": event_type, "severity": severity, **context}
        if agent_name:
            fields["agent_name"] = agent_name
        self.log(
            _SEVERITY_LEVELS.get(severity.upper(), logging.WARNING),
            f"Security event: {event_type} - {description}",
            extra={"security_context": fields},
        )

    def log_access_attempt(
        self, agent_name: str, resource: str, success: bool, reason: str | None = None
    ) -> None:
        verb = "accessed" if success else "was denied access to"
        context: dict[str, Any] = {"resource": resource, "success": success}
        if reason:
            context["reason"] = reason
        self.log_security_event(
            "access_granted" if success else "access_denied",
            "LOW" if success else "MEDIUM",
            f"Agent {agent_name} {verb} {resource}",
            agent_name,
            **context,
        )

    def log_authentication_event(
        self,
        agent_name: str,
        success: bool,
        method: str | None = None,
        reason: str | None = None,
    ) -> None:
        context: dict[str, Any] = {"success": success}
        if method:
            context["method"] = method
        if reason:
            context["reason"] = reason
        self.log_security_event(
            "authentication_success" if success else "authentication_failure",
            "LOW" if success else "HIGH",
            f"Agent {agent_name} {'authenticated' if success else 'failed authentication'}",
            agent_name,
            **context,
        )


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``syntha_redis`` logger, or its child ``syntha_redis.<name>``."""
    if not name or name == ROOT_LOGGER:
        return logging.getLogger(ROOT_LOGGER)
    if name.startswith(ROOT_LOGGER + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")


def get_context_logger(name: str | None = None, agent_name: str | None = None) -> ContextLogger:
    return ContextLogger(get_logger(name), agent_name)


def get_performance_logger(name: str | None = None) -> PerformanceLogger:
    return PerformanceLogger(get_logger(f"performance.{name}" if name else "performance"))


def get_security_logger(name: str | None = None) -> SecurityLogger:
    return SecurityLogger(get_logger(f"security.{name}" if name else "security"))


# Handlers configure_logging installed, so reconfiguring replaces only ours.
_installed: list[logging.Handler] = []


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise SynthaConfigurationError(
            f"unknown log level {level!r}",
            config_key="level",
            suggestions=["Use DEBUG, INFO, WARNING, ERROR or CRITICAL"],
        )
    return number


def configure_logging(
    level: int | str = "INFO",
    format_type: str = "standard",
    log_file: str | None = None,
    enable_console: bool = True,
    enable_file: bool | None = None,
    max_file_size: int = 10 * 1024 * 1024,
    backup_count: int = 5,
    *,
    format: str | None = None,
    include_context: bool = True,
) -> None:
    """Send ``syntha_redis`` logs to the console and/or a (rotating) file.

    ``format`` is an alias of ``format_type``. A file is written when
    ``log_file`` is given unless ``enable_file=False``; ``max_file_size=0``
    disables rotation. Calling it again replaces the handlers it installed.
    """
    chosen = format or format_type
    if chosen not in FORMATS:
        raise SynthaConfigurationError(
            f"unknown log format {chosen!r}",
            config_key="format",
            suggestions=[f"Use one of: {', '.join(FORMATS)}"],
        )
    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(_level(level))
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()

    if enable_console:
        _installed.append(logging.StreamHandler(sys.stderr))
    if log_file and enable_file is not False:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        _installed.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=max_file_size, backupCount=backup_count, encoding="utf-8"
            )
        )
    formatter = SynthaFormatter(chosen, include_context)
    for handler in _installed:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    # With our own handlers, do not print every record twice through the
    # application's root logger; with none, let the application's config apply.
    root.propagate = not _installed


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def configure_from_env() -> None:
    """:func:`configure_logging` from the ``SYNTHA_LOG_*`` environment variables."""
    env = os.environ
    configure_logging(
        level=env.get("SYNTHA_LOG_LEVEL", "INFO"),
        format_type=env.get("SYNTHA_LOG_FORMAT", "standard"),
        log_file=env.get("SYNTHA_LOG_FILE") or None,
        enable_console=_flag("SYNTHA_LOG_CONSOLE", True),
        enable_file=_flag("SYNTHA_LOG_FILE_ENABLE", True),
        max_file_size=int(env.get("SYNTHA_LOG_MAX_SIZE", str(10 * 1024 * 1024))),
        backup_count=int(env.get("SYNTHA_LOG_BACKUP_COUNT", "5")),
        include_context=_flag("SYNTHA_LOG_INCLUDE_CONTEXT", True),
    )


if any(name.startswith("SYNTHA_LOG_") for name in os.environ):
    try:
        configure_from_env()
    except (SynthaConfigurationError, ValueError) as e:
        # A typo in an environment variable must not make the library unimportable.
        warnings.warn(f"ignoring SYNTHA_LOG_* settings: {e}", stacklevel=1)
