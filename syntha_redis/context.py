"""``ContextMesh``: Syntha's public mesh API, on Redis.

A mesh is a cheap handle: a user id, a settings object and the process's
shared connection pool. Every process that builds a mesh with the same URL
and ``user_id`` sees the same context, immediately.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from syntha_redis.core import limits
from syntha_redis.core.batches import BatchOperations
from syntha_redis.core.config import Settings
from syntha_redis.core.health import HealthReport, check_health
from syntha_redis.core.models import ContextItem, StoredItem
from syntha_redis.core.store import Operation, SnapshotLink, Store
from syntha_redis.core.topic_operations import TopicDeletion
from syntha_redis.exceptions import (
    SynthaConfigurationError,
    SynthaValidationError,
    typed_public_methods,
)
from syntha_redis.live import sweeper
from syntha_redis.live.events import ChangeEvent, Watch

# ContextItem is Syntha's, importable from here as ``syntha.context.ContextItem`` is.
__all__ = ["BaseContextMesh", "ContextItem", "ContextMesh", "build_settings"]

T = TypeVar("T")

# Syntha's database keywords. Each one means something here (see build_settings
# and syntha_redis.persistence); anything else that is not a Settings field is an error.
DATABASE_KEYWORDS = frozenset(
    {
        "connection_string",
        "host",
        "port",
        "database",
        "db_name",
        "user",
        "username",
        "password",
        "sslmode",
        "db_path",
        "max_overflow",
        "pool_recycle",
        "db_connect_timeout",
    }
)


def build_settings(
    redis_url: str | None, settings: Settings | None, options: dict[str, Any]
) -> tuple[Settings, dict[str, Any]]:
    """Split keyword options into Settings fields and database options."""
    unknown = set(options) - set(Settings.model_fields) - DATABASE_KEYWORDS
    if unknown:
        raise SynthaConfigurationError(
            f"unknown keyword argument(s): {', '.join(sorted(unknown))}",
            config_key=sorted(unknown)[0],
            suggestions=[
                "Valid keywords: "
                + ", ".join(sorted(set(Settings.model_fields) | DATABASE_KEYWORDS))
            ],
        )
    fields = {k: v for k, v in options.items() if k in Settings.model_fields}
    database = {k: v for k, v in options.items() if k in DATABASE_KEYWORDS}
    if "max_overflow" in database and "pool_size" in fields:
        # Syntha's pool is pool_size + max_overflow connections at most.
        fields["pool_size"] = int(fields["pool_size"]) + int(database["max_overflow"])
    if settings is not None:
        if redis_url:
            fields["redis_url"] = redis_url
        merged = settings.model_dump() | fields
        return Settings.checked(merged), database
    return Settings.from_env(redis_url=redis_url, **fields), database


def _resolve_user(user_id: object, settings: Settings) -> str:
    """The mesh's user: ``user_id``, or for None (Syntha's single-user mode) the
    settings' default user, with a warning, unless ``require_user_id`` is set.
    Other falsy ids ("", 0, False) are refused: they are bugs, not a choice of user."""
    if user_id is None:
        if settings.require_user_id:
            raise SynthaValidationError(
                "user_id is required (require_user_id is set), got None",
                field="user_id",
                suggestions=[
                    "Pass the end user's id: ContextMesh(user_id=...); unset "
                    "SYNTHA_REQUIRE_USER_ID only for single-user tools and tests"
                ],
            )
        # the warnings filter shows this once per calling line, not once per mesh
        warnings.warn(
            f"ContextMesh has no user_id: using the shared default user "
            f"{settings.default_user!r}. Production code should pass user_id= so that "
            "each end user's context is isolated (require_user_id=True enforces it).",
            UserWarning,
            stacklevel=3,
        )
        return settings.default_user
    if not user_id:
        raise SynthaValidationError(
            f"user_id must be a non-empty string, got {user_id!r}",
            field="user_id",
            suggestions=[
                "Pass the end user's id as a non-empty string; pass None (not "
                f"{user_id!r}) for the shared default user {settings.default_user!r}"
            ],
        )
    return user_id  # type: ignore[return-value]  # MeshOperations checks it is a string


class BaseContextMesh:
    """What ``ContextMesh`` and ``AsyncContextMesh`` share: settings, user,
    persistence and the expiry sweeper. Subclasses add only the I/O.

    Keyword arguments are Syntha's (``db_backend``, ``connection_string``,
    ``pool_size``, ``cleanup_interval``, ...) plus any field of ``Settings``
    (``redis_url``, ``key_prefix``, ``default_ttl``, limits). An unknown keyword
    raises ``SynthaConfigurationError``.
    """

    def __init__(
        self,
        enable_indexing: bool = True,
        auto_cleanup: bool = True,
        enable_persistence: bool = True,
        db_backend: str | None = None,
        user_id: str | None = None,
        *,
        redis_url: str | None = None,
        settings: Settings | None = None,
        durability: str = "async",
        **options: Any,
    ) -> None:
        self.settings, database = build_settings(redis_url, settings, options)
        self.user_id = _resolve_user(user_id, self.settings)
        # Indexes are Redis sets kept by the scripts at O(1) per write; there is
        # nothing to switch off, so enable_indexing is accepted and recorded only.
        self.enable_indexing = enable_indexing
        self.auto_cleanup = auto_cleanup
        self.enable_persistence = enable_persistence
        # The operations of this user: every call the mesh makes, described once for
        # sync and async; ``run`` executes one (the public seam for other layers).
        self.operations = BatchOperations(self.settings, self.user_id)
        # the deployment's limits hold: ones given here that differ are refused at
        # the first write (the environment's: a warning)
        self.operations.limit_sources = limits.sources(options, settings)
        self.db_backend: Any = None
        if db_backend is None and enable_persistence and "db_path" in database:
            # Syntha's default backend is SQLite: db_path alone names its file.
            db_backend = "sqlite"
        if enable_persistence and db_backend is not None:
            from syntha_redis.persistence import attach_backend

            self.db_backend = attach_backend(self, db_backend, durability, database)
        elif set(database) - {"max_overflow"}:
            unused = sorted(set(database) - {"max_overflow"})
            raise SynthaConfigurationError(
                f"database option(s) {', '.join(unused)} given, but no snapshot database is "
                f"used (db_backend={db_backend!r}, enable_persistence={enable_persistence})",
                config_key=unused[0],
                suggestions=[
                    'Pass db_backend="postgresql" or "sqlite" (with enable_persistence=True) '
                    "to use them, or drop them"
                ],
            )
        self._open()
        self._closed = False
        if auto_cleanup:
            sweeper.register(self, self.operations)

    def _open(self) -> None:
        """Set up the subclass's store (called after persistence is attached)."""
        raise NotImplementedError

    def _snapshot_link(self) -> SnapshotLink | None:
        """What the stores of this mesh consult: its snapshot, which keeps them off
        a keyspace that lost its data and, with sync durability, commits each
        write; None without a snapshot."""
        return self.db_backend  # type: ignore[no-any-return]

    def _release(self) -> bool:
        """Mark closed; False if it already was. Closes the persistence backend."""
        if self._closed:
            return False
        self._closed = True
        sweeper.unregister(self)
        if self.db_backend is not None:
            self.db_backend.close()
        return True

    def __repr__(self) -> str:
        from syntha_redis.core.connection import describe_url

        where = describe_url(self.settings.redis_url)
        return f"{type(self).__name__}(user_id={self.user_id!r}, redis={where})"


@typed_public_methods
class ContextMesh(BaseContextMesh):
    """Shared context for the agents of one end user (``user_id``).

    Takes the arguments of ``BaseContextMesh``; a cheap handle over the
    process's shared connection pool.
    """

    def _open(self) -> None:
        #: The store that runs this mesh's operations. Replace it (with a Store
        #: subclass that records or fails calls, say) to observe every call.
        self.store = Store(self.settings, self._snapshot_link())

    def run(self, operation: Operation[T]) -> T:
        """Run one operation of ``self.operations`` (or any ``Operation``) on this
        mesh's store. Every method of the mesh, the tool handlers, the CLI and
        the MCP server go through here: what is added here applies to all."""
        return self.store.run(operation)

    # -- items -------------------------------------------------------------------

    def push(
        self,
        key: str,
        value: Any,
        subscribers: list[str] | None = None,
        topics: list[str] | None = None,
        ttl: float | None = None,
        *,
        agent_name: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Store ``value`` under ``key``; returns the item's new version.

        Routing is resolved when items are read: no subscribers and no topics
        make the item global. With ``agent_name`` the push is that agent's: its
        post permissions are enforced and it is recorded as the author. With
        ``expected_version`` the push is a compare-and-set (0 = must not exist).
        """
        return self.run(
            self.operations.push(key, value, subscribers, topics, ttl, agent_name, expected_version)
        )

    def push_many(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Push several items atomically, all or none, in one round trip.

        Each item is a dict of ``push()``'s arguments (``key``, ``value``,
        ``subscribers``, ``topics``, ``ttl``, ``agent_name``, ``expected_version``).
        All are validated and checked (versions, post permissions, quotas) before
        any is written. Returns the new versions, in order.
        """
        return self.run(self.operations.push_many(self.operations.batch_items(items)))

    def get_many(self, keys: Iterable[str], agent_name: str | None = None) -> dict[str, Any]:
        """``{key: value}`` of the live (and, with ``agent_name``, visible) items
        among ``keys``, in one round trip; missing keys are absent."""
        return {k: item.value for k, item in self.get_many_items(keys, agent_name).items()}

    def get_many_items(
        self, keys: Iterable[str], agent_name: str | None = None
    ) -> dict[str, StoredItem]:
        """Like ``get_many``, with each item's metadata."""
        return self.run(self.operations.get_many(keys, agent_name))

    def get(self, key: str, agent_name: str | None = None) -> Any:
        """The value, or None if missing, expired or not visible to ``agent_name``."""
        return self.run(self.operations.get_value(key, agent_name))

    def get_item(self, key: str, agent_name: str | None = None) -> StoredItem | None:
        """The item with its metadata (version, author, times, routing)."""
        return self.run(self.operations.get_item(key, agent_name))

    def get_visible_items(self, agent_name: str) -> list[StoredItem]:
        """Every live item ``agent_name`` can see, oldest first (one server-side read)."""
        return self.run(self.operations.visible_items(agent_name))[1]

    def get_all_for_agent(self, agent_name: str) -> dict[str, Any]:
        return self.run(self.operations.visible_values(agent_name))

    def get_keys_for_agent(self, agent_name: str) -> list[str]:
        return self.run(self.operations.visible_keys(agent_name))

    def get_available_keys_by_topic(self, agent_name: str) -> dict[str, list[str]]:
        """``{topic: [keys]}`` for each followed topic, plus ``"other"`` for the rest."""
        return self.run(self.operations.keys_by_topic(agent_name))

    def remove(self, key: str) -> bool:
        """Delete ``key``; True if it existed."""
        return self.run(self.operations.remove(key))

    delete = remove

    def clear(self) -> None:
        """Delete all of this user's items, subscriptions and post permissions."""
        self.run(self.operations.clear())

    def cleanup_expired(self) -> int:
        """Prune index entries of expired items; returns how many were pruned."""
        return self.run(self.operations.cleanup_expired())

    def size(self) -> int:
        """The number of live items."""
        return int(self.run(self.operations.stats_summary())["active_items"])

    def get_stats(self) -> dict[str, Any]:
        return self.run(self.operations.stats_summary())

    # -- change feed -----------------------------------------------------------------

    def watch(
        self,
        agent_name: str,
        since: str | ChangeEvent | None = None,
        timeout: float | None = None,
    ) -> Watch:
        """Iterate the changes ``agent_name`` may see, as they happen (no polling).

        ``since``: an event id (or event) to resume after, ``"0"`` for all the
        stream holds, None for new changes only. ``timeout``: stop after that
        many seconds without an event (None = never). See ``syntha_redis.live.events``.
        """
        return Watch(self.store, self.operations, agent_name, since, timeout)

    # -- topics --------------------------------------------------------------------

    def register_agent_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        """Make ``agent_name`` follow exactly ``topics``; returns them."""
        return self.run(self.operations.subscribe(agent_name, topics, replace=True))

    def subscribe_to_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        """Add ``topics`` to those ``agent_name`` follows; returns all it follows."""
        return self.run(self.operations.subscribe(agent_name, topics, replace=False))

    def unsubscribe_from_topics(self, agent_name: str, topics: list[str]) -> list[str]:
        """Stop following ``topics``; returns those it actually followed."""
        return self.run(self.operations.unsubscribe(agent_name, topics)).removed

    def get_topics_for_agent(self, agent_name: str) -> list[str]:
        return self.run(self.operations.topics_for_agent(agent_name))

    def get_subscribers_for_topic(self, topic: str) -> list[str]:
        return self.run(self.operations.subscribers_for_topic(topic))

    def get_all_topics(self) -> list[str]:
        """Topics with at least one subscriber."""
        return self.run(self.operations.all_topics())

    def delete_topic(self, topic: str) -> int:
        """Delete ``topic``; returns the number of items deleted with it."""
        return self.delete_topic_report(topic).items_deleted

    def delete_topic_report(self, topic: str) -> TopicDeletion:
        """Delete ``topic``; says whether it existed and what it affected."""
        return self.run(self.operations.delete_topic(topic))

    # -- post permissions ------------------------------------------------------------

    def set_agent_post_permissions(self, agent_name: str, allowed_topics: list[str]) -> None:
        """Limit the topics ``agent_name`` may post to (``[]`` = any topic)."""
        self.run(self.operations.set_post_permissions(agent_name, allowed_topics))

    def get_agent_post_permissions(self, agent_name: str) -> list[str]:
        return self.run(self.operations.get_agent_post_permissions(agent_name))

    def can_agent_post_to_topic(self, agent_name: str, topic: str) -> bool:
        return self.run(self.operations.can_post(agent_name, topic))

    # -- lifecycle ---------------------------------------------------------------------

    def ping(self) -> bool:
        return self.store.ping()

    def health(self) -> HealthReport:
        """Status (healthy / degraded / unhealthy) of Redis and of this mesh's
        stream and snapshot. Never raises: an unreachable Redis is reported as
        unhealthy with the error and a suggestion. See ``syntha_redis.core.health``."""
        return check_health(self.store, self.operations.keys.stream, self.db_backend)

    def close(self) -> None:
        """Release this handle (the shared pool stays for other meshes)."""
        self._release()

    def __enter__(self) -> ContextMesh:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
