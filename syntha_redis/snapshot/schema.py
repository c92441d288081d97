"""The snapshot's tables in each SQL dialect, and the migrations that create them.

One SQL text serves Postgres and SQLite: only the placeholder, the column
types of values and name lists, and the migration lock differ, and a
``Dialect`` says how. Times are epoch milliseconds (the unit Redis stores),
so a restore puts back exactly the expiry that was captured. Names (user ids,
keys, topics, agents) are stored decoded, readable by humans.

Migrations are numbered; ``<prefix>schema_migrations`` records which ran.
Each runs once, inside a transaction that holds the dialect's migration lock,
so any number of processes may start at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syntha_redis.exceptions import SynthaConfigurationError

__all__ = ["Dialect", "POSTGRES", "SQLITE", "MIGRATIONS", "Tables", "validate_table_prefix"]

_TABLE_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def validate_table_prefix(prefix: str) -> str:
    if not _TABLE_PREFIX.fullmatch(prefix):
        raise SynthaConfigurationError(
            f"table prefix {prefix!r} must match {_TABLE_PREFIX.pattern}",
            config_key="table_prefix",
            suggestions=["Use a short lower-case prefix such as 'syntha_'"],
        )
    return prefix


@dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str
    bytes_type: str
    list_type: str
    # taken inside the migration transaction (Postgres: advisory lock; SQLite's
    # BEGIN IMMEDIATE already excludes other writers)
    migration_lock: str | None
    dump_list: Callable[[list[str]], Any]
    load_list: Callable[[Any], list[str]]

    def sql(self, text: str) -> str:
        """``text`` written with ``%s`` placeholders, in this dialect."""
        return text if self.placeholder == "%s" else text.replace("%s", self.placeholder)


def _identity(names: list[str]) -> list[str]:
    return names


def _from_json(text: Any) -> list[str]:
    return list(json.loads(text)) if text else []


POSTGRES = Dialect(
    name="postgresql",
    placeholder="%s",
    bytes_type="BYTEA",
    list_type="TEXT[]",
    migration_lock="SELECT pg_advisory_xact_lock(4711471147)",
    dump_list=_identity,
    load_list=lambda value: list(value or []),
)
SQLITE = Dialect(
    name="sqlite",
    placeholder="?",
    bytes_type="BLOB",
    list_type="TEXT",
    migration_lock=None,
    dump_list=lambda names: json.dumps(names, ensure_ascii=False),
    load_list=_from_json,
)


@dataclass(frozen=True)
class Tables:
    """Table names under one prefix (tests use a prefix each)."""

    prefix: str

    @property
    def items(self) -> str:
        return self.prefix + "items"

    @property
    def agents(self) -> str:
        return self.prefix + "agents"

    @property
    def users(self) -> str:
        return self.prefix + "users"

    @property
    def migrations(self) -> str:
        return self.prefix + "schema_migrations"


def _v1(t: Tables, d: Dialect) -> list[str]:
    return [
        # One row per (user, key): the latest captured state, or a tombstone
        # (deleted = true, value NULL) so that an older event replayed later
        # cannot bring a deleted item back.
        f"""CREATE TABLE {t.items} (
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value {d.bytes_type},
            topics {d.list_type} NOT NULL,
            subscribers {d.list_type} NOT NULL,
            author TEXT,
            version BIGINT NOT NULL,
            created_ms BIGINT NOT NULL,
            expires_ms BIGINT,
            deleted BOOLEAN NOT NULL,
            PRIMARY KEY (user_id, key))""",
        # kind 'subscribed': the topics the agent follows; 'permissions': the
        # topics it may post to. An empty list is the tombstone.
        f"""CREATE TABLE {t.agents} (
            user_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('subscribed', 'permissions')),
            topics {d.list_type} NOT NULL,
            version BIGINT NOT NULL,
            PRIMARY KEY (user_id, agent, kind))""",
        # clear() is one event; rows older than cleared_version are dead even
        # if a stale event inserted them after the clear was written.
        f"""CREATE TABLE {t.users} (
            user_id TEXT PRIMARY KEY,
            cleared_version BIGINT NOT NULL)""",
    ]


# (version, description, statements) in order; append, never edit a released one.
MIGRATIONS: list[tuple[int, str, Callable[[Tables, Dialect], list[str]]]] = [
    (1, "items, agents and users tables", _v1),
]


def migration_table(t: Tables) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {t.migrations} (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_ms BIGINT NOT NULL)"""
