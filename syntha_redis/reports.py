"""Agent outcomes and performance metrics (Syntha's ``OutcomeLogger``).

Storages: ``memory`` (this process), ``file`` (JSON lines), ``sqlite``, and
``redis``, which a fleet of workers shares: outcomes go to one Redis stream
per namespace, bounded by ``max_outcomes``, and time windows use the Redis
server's clock (stream ids), so workers with skewed clocks agree on them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from syntha_redis.core.calls import CommandCall, Operation
from syntha_redis.core.config import Settings
from syntha_redis.core.keys import outcomes_stream
from syntha_redis.core.store import Store
from syntha_redis.exceptions import SynthaConfigurationError

__all__ = ["AgentOutcome", "OutcomeLogger", "STORAGE_TYPES"]

STORAGE_TYPES = ("memory", "file", "sqlite", "redis")


@dataclass
class AgentOutcome:
    """One logged outcome of an agent's task."""

    timestamp: float
    agent_name: str
    task_type: str
    success: bool
    duration_seconds: float | None = None
    input_context: dict[str, Any] | None = None
    output_data: dict[str, Any] | None = None
    error_message: str | None = None
    metadata: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        # Outcome details are diagnostics: an unserialisable one is logged as
        # its str() rather than failing the caller's task.
        return json.dumps(self.to_dict(), default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentOutcome:
        return cls(**data)


class _Storage(Protocol):
    def append(self, outcome: AgentOutcome) -> None: ...
    def since(self, max_age_seconds: float) -> list[AgentOutcome]: ...
    def clear(self, older_than_seconds: float | None) -> int: ...


class _MemoryStorage:
    def __init__(self) -> None:
        self._outcomes: list[AgentOutcome] = []
        self._lock = threading.Lock()

    def append(self, outcome: AgentOutcome) -> None:
        with self._lock:
            self._outcomes.append(outcome)

    def since(self, max_age_seconds: float) -> list[AgentOutcome]:
        cutoff = time.time() - max_age_seconds
        with self._lock:
            return [o for o in self._outcomes if o.timestamp >= cutoff]

    def clear(self, older_than_seconds: float | None) -> int:
        cutoff = float("inf") if older_than_seconds is None else time.time() - older_than_seconds
        with self._lock:
            kept = [o for o in self._outcomes if o.timestamp >= cutoff]
            removed = len(self._outcomes) - len(kept)
            self._outcomes = kept
        return removed


class _FileStorage:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, outcome: AgentOutcome) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(outcome.to_json() + "\n")

    def _read(self) -> list[AgentOutcome]:
        if not self.path.exists():
            return []
        outcomes = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                outcomes.append(AgentOutcome.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue  # a torn or foreign line must not hide the others
        return outcomes

    def since(self, max_age_seconds: float) -> list[AgentOutcome]:
        cutoff = time.time() - max_age_seconds
        return [o for o in self._read() if o.timestamp >= cutoff]

    def clear(self, older_than_seconds: float | None) -> int:
        with self._lock:
            outcomes = self._read()
            if older_than_seconds is None:
                self.path.unlink(missing_ok=True)
                return len(outcomes)
            cutoff = time.time() - older_than_seconds
            kept = [o for o in outcomes if o.timestamp >= cutoff]
            self.path.write_text("".join(o.to_json() + "\n" for o in kept), encoding="utf-8")
            return len(outcomes) - len(kept)


_COLUMNS = (
    "timestamp, agent_name, task_type, success, duration_seconds,"
    " input_context, output_data, error_message, metadata"
)
_JSON_COLUMNS = ("input_context", "output_data", "metadata")


class _SqliteStorage:
    def __init__(self, path: str) -> None:
        self.path = path
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS outcomes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                " timestamp REAL NOT NULL, agent_name TEXT NOT NULL, task_type TEXT NOT NULL,"
                " success BOOLEAN NOT NULL, duration_seconds REAL, input_context TEXT,"
                " output_data TEXT, error_message TEXT, metadata TEXT)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS outcomes_ts ON outcomes (timestamp)")

    def append(self, outcome: AgentOutcome) -> None:
        row = outcome.to_dict()
        for column in _JSON_COLUMNS:
            row[column] = None if row[column] is None else json.dumps(row[column], default=str)
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(
                f"INSERT INTO outcomes ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(row.values()),
            )

    def since(self, max_age_seconds: float) -> list[AgentOutcome]:
        with closing(sqlite3.connect(self.path)) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM outcomes WHERE timestamp >= ?",
                (time.time() - max_age_seconds,),
            ).fetchall()
        outcomes = []
        for row in rows:
            data = dict(zip(AgentOutcome.__dataclass_fields__, row, strict=True))
            data["success"] = bool(data["success"])
            for column in _JSON_COLUMNS:
                data[column] = None if data[column] is None else json.loads(data[column])
            outcomes.append(AgentOutcome.from_dict(data))
        return outcomes

    def clear(self, older_than_seconds: float | None) -> int:
        with closing(sqlite3.connect(self.path)) as db, db:
            if older_than_seconds is None:
                return db.execute("DELETE FROM outcomes").rowcount
            cutoff = time.time() - older_than_seconds
            return db.execute("DELETE FROM outcomes WHERE timestamp < ?", (cutoff,)).rowcount


class _RedisStorage:
    """One stream (XADD MAXLEN ~) per namespace; stream ids give the time windows.
    Every call goes through a ``Store`` (metered and error-translated like the mesh's)."""

    def __init__(self, redis_url: str | None, namespace: str, max_outcomes: int) -> None:
        self.settings = Settings.from_env(redis_url=redis_url)
        self.store = Store(self.settings)
        self.key = outcomes_stream(self.settings.key_prefix, namespace)
        self.max_outcomes = max_outcomes

    def append(self, outcome: AgentOutcome) -> None:
        self.store.run(log_outcome(self.key, outcome.to_json(), self.max_outcomes))

    def since(self, max_age_seconds: float) -> list[AgentOutcome]:
        entries = self.store.run(get_recent_outcomes(self.key, max_age_seconds))
        return [AgentOutcome.from_dict(json.loads(fields[b"outcome"])) for _, fields in entries]

    def clear(self, older_than_seconds: float | None) -> int:
        if older_than_seconds is None:
            length, _ = self.store.execute_atomic(
                [CommandCall(("XLEN", self.key)), CommandCall(("DEL", self.key))]
            )
            return int(length)
        return self.store.run(clear_outcomes(self.key, older_than_seconds))


def _cutoff_id(age_seconds: float) -> Operation[str]:
    """The stream id ``age_seconds`` before the server's clock."""
    seconds, micros = yield CommandCall(("TIME",))
    return str(max(0, int((int(seconds) + int(micros) / 1e6 - age_seconds) * 1000)))


def log_outcome(key: str, outcome: str, max_outcomes: int) -> Operation[None]:
    yield CommandCall(("XADD", key, "MAXLEN", "~", max_outcomes, "*", "outcome", outcome))


def get_recent_outcomes(key: str, max_age_seconds: float) -> Operation[Any]:
    cutoff = yield from _cutoff_id(max_age_seconds)
    return (yield CommandCall(("XRANGE", key, cutoff, "+")))


def clear_outcomes(key: str, older_than_seconds: float) -> Operation[int]:
    cutoff = yield from _cutoff_id(older_than_seconds)
    return int((yield CommandCall(("XTRIM", key, "MINID", cutoff))))


def _open_storage(
    storage_type: str,
    file_path: str | None,
    db_path: str | None,
    redis_url: str | None,
    namespace: str,
    max_outcomes: int,
) -> _Storage:
    def need(path: str | None, name: str) -> str:
        if not path:
            raise SynthaConfigurationError(
                f"storage_type={storage_type!r} needs {name}",
                config_key=name,
                suggestions=[f"Pass {name}='outcomes.{'jsonl' if name == 'file_path' else 'db'}'"],
            )
        return path

    if storage_type == "memory":
        return _MemoryStorage()
    if storage_type == "file":
        return _FileStorage(need(file_path, "file_path"))
    if storage_type == "sqlite":
        return _SqliteStorage(need(db_path, "db_path"))
    if storage_type == "redis":
        return _RedisStorage(redis_url, namespace, max_outcomes)
    raise SynthaConfigurationError(
        f"unknown storage_type {storage_type!r}",
        config_key="storage_type",
        suggestions=[f"Use one of: {', '.join(STORAGE_TYPES)}"],
    )


def _tally(outcomes: list[AgentOutcome], key: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        entry = counts.setdefault(getattr(outcome, key), {"total": 0, "successful": 0})
        entry["total"] += 1
        entry["successful"] += outcome.success
    return counts


class OutcomeLogger:
    """Logs agent outcomes and answers performance questions about them."""

    def __init__(
        self,
        storage_type: str = "memory",
        file_path: str | None = None,
        db_path: str | None = None,
        *,
        redis_url: str | None = None,
        namespace: str = "default",
        max_outcomes: int = 100_000,
    ) -> None:
        self.storage_type = storage_type
        self.file_path = file_path
        self.db_path = db_path
        self._storage = _open_storage(
            storage_type, file_path, db_path, redis_url, namespace, max_outcomes
        )

    def log_outcome(
        self,
        agent_name: str,
        task_type: str,
        success: bool,
        duration_seconds: float | None = None,
        input_context: dict[str, Any] | None = None,
        output_data: dict[str, Any] | None = None,
        error_message: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._storage.append(
            AgentOutcome(
                time.time(),
                agent_name,
                task_type,
                success,
                duration_seconds,
                input_context,
                output_data,
                error_message,
                metadata,
            )
        )

    def get_recent_outcomes(
        self, hours: float = 24, agent_name: str | None = None, task_type: str | None = None
    ) -> list[AgentOutcome]:
        """Outcomes of the last ``hours``, newest first, optionally filtered."""
        outcomes = [
            o
            for o in self._storage.since(hours * 3600)
            if (agent_name is None or o.agent_name == agent_name)
            and (task_type is None or o.task_type == task_type)
        ]
        return sorted(outcomes, key=lambda o: o.timestamp, reverse=True)

    def get_performance_metrics(
        self, hours: float = 24, agent_name: str | None = None
    ) -> dict[str, Any]:
        outcomes = self.get_recent_outcomes(hours, agent_name)
        total = len(outcomes)
        successful = sum(o.success for o in outcomes)
        durations = [o.duration_seconds for o in outcomes if o.duration_seconds is not None]
        return {
            "total_tasks": total,
            "successful_tasks": successful,
            "failed_tasks": total - successful,
            "success_rate": successful / total if total else 0.0,
            "error_rate": (total - successful) / total if total else 0.0,
            "average_duration": sum(durations) / len(durations) if durations else 0.0,
            "tasks_by_type": _tally(outcomes, "task_type"),
            # Syntha leaves the per-agent summary empty when filtering by agent.
            "agents_summary": {} if agent_name else _tally(outcomes, "agent_name"),
            "time_period_hours": hours,
        }

    def clear_outcomes(self, older_than_hours: float | None = None) -> int:
        """Delete all outcomes, or those older than ``older_than_hours``; returns how many."""
        return self._storage.clear(None if older_than_hours is None else older_than_hours * 3600)
