"""Settings: one typed object, built from arguments and ``SYNTHA_*`` environment.

Every default lives here. ``Settings.from_env(**overrides)`` reads the
environment variable ``SYNTHA_<FIELD>`` (upper case) for each field not given
as an argument, so ``SYNTHA_REDIS_URL=redis://cache:6379/0`` selects a server
without touching code.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from syntha_redis.core.keys import validate_prefix
from syntha_redis.exceptions import SynthaConfigurationError, SynthaValidationError

__all__ = ["Settings", "DEFAULT_USER"]

DEFAULT_USER = "default"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = Field(
        None,
        description="redis://, rediss://, unix:// or redis+cluster:// URL; None = in-process",
    )
    key_prefix: str = Field("syntha", description="first part of every Redis key")
    default_user: str = Field(DEFAULT_USER, description="user id when none is given")
    require_user_id: bool = Field(
        False, description="refuse a mesh without user_id instead of using default_user"
    )
    default_ttl: float | None = Field(None, gt=0, description="TTL (s) when push gets none")

    # Limits stop runaway input, not ordinary use: each default is above what
    # Syntha code does (1,000-character keys, 1,000 subscribers, 100 topics,
    # a 1 MiB string value), since Syntha itself has no limits.
    max_key_length: int = Field(1024, gt=0, description="characters in an item key")
    max_name_length: int = Field(256, gt=0, description="characters in a topic/agent/user")
    # Counts encoded bytes: room for a 1 MiB string of any characters (UTF-8
    # takes up to 4 bytes each) inside a dict, with msgpack's framing.
    max_value_bytes: int = Field(8 << 20, gt=0, description="encoded bytes of one value")
    max_topics_per_item: int = Field(256, gt=0)
    max_subscribers_per_item: int = Field(1024, gt=0)
    max_topics_per_agent: int = Field(256, gt=0)
    # Finite by default: a user's data bounds the cost of its fan-out calls (each
    # runs in bounded chunks, but their number grows with the items). 0 = none.
    max_items_per_user: int | None = Field(100_000, ge=0, description="quota; 0 = none")
    max_bytes_per_user: int | None = Field(None, gt=0, description="quota; None = none")
    max_visible_items: int = Field(10_000, gt=0, description="cap of one visible-items read")
    # at most 1000: the scripts hold one call to that many (a bounded cost)
    max_batch_items: int = Field(1000, gt=0, le=1000,
                                 description="items of one push_many/get_many")

    stream_max_length: int = Field(10_000, gt=0, description="events kept per user (~)")
    stream_max_age_seconds: float = Field(7 * 86400, gt=0, description="oldest event kept")
    stream_idle_seconds: float = Field(
        30 * 86400, gt=0, description="an idle user's stream expires after this"
    )
    # Covers redis-py's whole retry window (retries x socket_timeout + backoff,
    # ~21 s by default); each record costs ~170 B while it lives, so memory for
    # retry safety is bounded by the write rate x this, not by the items stored.
    operation_ttl_seconds: float = Field(60, gt=0, description="how long retries dedupe")
    prune_batch: int = Field(100, gt=0, description="expired items pruned per script call")

    pool_size: int = Field(50, gt=0, description="max Redis connections per process")
    pool_timeout: float = Field(30, gt=0, description="wait for a free connection (s)")
    socket_timeout: float = Field(5, gt=0)
    connect_timeout: float = Field(2, gt=0)
    retries: int = Field(3, ge=0, description="reconnect attempts on connection errors")
    health_check_interval: int = Field(30, ge=0)
    cleanup_interval: float = Field(300, gt=0, description="expiry sweeper period (s)")
    sweep_registered_users: bool = Field(
        True,
        description="this process may also sweep users no process of it serves (one process "
        "of the deployment per cleanup_interval); off for tenant credentials, which cannot "
        "read the users registry",
    )
    watch_poll_interval: float = Field(
        1.0, gt=0, description="watch() re-reads the stream this often without a wake-up (s)"
    )
    watch_retry_max_delay: float = Field(
        5.0, gt=0, description="watch(): longest pause between reconnect attempts (s)"
    )
    watch_give_up_seconds: float | None = Field(
        300, ge=0, description="watch(): raise after Redis was unreachable this long; None = never"
    )

    # Off by default: a process that nobody scrapes pays nothing, and the
    # prometheus-client extra stays optional. See syntha_redis.core.metrics.
    metrics_enabled: bool = Field(
        False, description="record Prometheus metrics of every operation ('metrics' extra)"
    )
    health_max_latency_ms: float = Field(
        100, gt=0, description="health(): a slower Redis round trip is 'degraded'"
    )
    health_max_memory_ratio: float = Field(
        0.9, gt=0, le=1, description="health(): used_memory / maxmemory above this is 'degraded'"
    )
    health_max_snapshot_lag_seconds: float = Field(
        60, gt=0, description="health(): a snapshot further behind is 'degraded'"
    )

    @field_validator("key_prefix")
    @classmethod
    def _prefix_is_safe(cls, value: str) -> str:
        try:
            return validate_prefix(value)
        except SynthaValidationError as e:
            raise ValueError(e.message) from None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Arguments win over ``SYNTHA_*`` environment, which wins over defaults."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            env = os.environ.get(f"SYNTHA_{name.upper()}")
            if env is not None and env != "":
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.checked(values)

    @classmethod
    def checked(cls, values: dict[str, Any]) -> Settings:
        """Settings from ``values``; a bad one raises SynthaConfigurationError."""
        try:
            return cls(**values)
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise SynthaConfigurationError(
                f"invalid setting {field}: {first['msg']}",
                config_key=field,
                suggestions=[f"Check the argument or SYNTHA_{field.upper()} environment variable"],
                cause=e,
            ) from None
