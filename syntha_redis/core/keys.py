"""Every Redis name syntha_redis uses, and the identifier rules behind them.

All keys and channels of one user start with the same root,
``<prefix>:{u:<encoded user>}:``. The braces are a Redis Cluster hash tag, so
every key of a user lives in one slot and one user's Lua scripts never cross
slots. Identifiers (user ids, item keys, topics, agent names) are
percent-encoded outside ``[A-Za-z0-9._-]``: the encoding is lossless and its
output never contains ``{ } : * ? [ ] \\`` or whitespace, so no input can move
the hash tag, collide with another name, or act as a glob pattern.

The Lua scripts receive the root as ``KEYS[1]`` and already-encoded tokens in
ARGV; they derive the per-user key names below with the same suffixes
(``lua/_prelude.lua``). ``tests/core/test_keys.py`` checks the two agree.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote

from syntha_redis.exceptions import SynthaValidationError

__all__ = [
    "ITEM",
    "ITEMS",
    "STREAM",
    "WAKE_CHANNEL",
    "USERS_REGISTRY",
    "OUTCOMES",
    "SNAPSHOT_GROUP",
    "UserKeys",
    "outcomes_stream",
    "decode",
    "decode_csv",
    "encode",
    "token",
    "validate_identifier",
    "validate_prefix",
]

# Suffixes after a user's root. Mirrored in lua/_prelude.lua.
ITEM = "item:"  # hash per context item
ITEMS = "items"  # set of the tokens of all stored items
EXPIRY = "exp"  # zset token -> expiry (ms), for items with a TTL
ROUTES = "routes"  # hash token -> "size|topics|subscribers", items with a TTL
GLOBAL = "global"  # set of tokens of global items (no topics, no subscribers)
DIRECT = "direct:"  # set per agent: tokens addressed to it by name
TOPIC_ITEMS = "titems:"  # set per topic: tokens routed to it
TOPIC_SUBSCRIBERS = "tsubs:"  # set per topic: agents subscribed
AGENT_TOPICS = "atopics:"  # zset per agent: topics it follows, scored by order
TOPICS = "topics"  # set of topics with at least one subscriber
SUBSCRIBED_AGENTS = "tagents"  # set of agents with at least one topic
POST_PERMISSIONS = "perms:"  # set per agent: topics it may post to (empty = any)
PERMISSION_AGENTS = "pagents"  # set of agents with post permissions
VERSION = "ver"  # the user's monotonic version counter
BYTES = "bytes"  # total encoded value bytes stored (quota)
STREAM = "events"  # change stream
WAKE_CHANNEL = "wake"  # sharded pub/sub channel: "something changed"
OPERATION = "op:"  # result of an applied operation id (safe retries)
SWEEP_LEASE = "sweep"  # lease of the expiry sweeper
# Set once the user's snapshot is back in Redis (see syntha_redis.snapshot.guard),
# one per snapshot database ("epoch:<its capture group>"). Redis losing its data
# loses this marker too, which is how the loss is seen.
EPOCH = "epoch:"
RESTORING = "restoring"  # lock of the one worker restoring a lost keyspace
# The snapshot capture's floor in the stream, and deletions no trim may lose
# (see lua/_prelude.lua capture_floor() and syntha_redis.snapshot.capture).
CAPTURED = "captured"
GONE = "gone"
# The snapshot database that is this user's system of record (persistence.py).
SNAPSHOT_DB = "snapshot-db"
LIMITS = "limits"  # the user's copy of the deployment's limits (syntha_redis.core.limits)

# The user's keys its own processes write (a tenant's ACL: read and write);
# LIMITS is not among them: a tenant may read its limits, never change them.
WRITABLE = (ITEM, ITEMS, EXPIRY, ROUTES, GLOBAL, DIRECT, TOPIC_ITEMS, TOPIC_SUBSCRIBERS,
            AGENT_TOPICS, TOPICS, SUBSCRIBED_AGENTS, POST_PERMISSIONS, PERMISSION_AGENTS,
            VERSION, BYTES, STREAM, OPERATION, SWEEP_LEASE, EPOCH, RESTORING, CAPTURED, GONE,
            SNAPSHOT_DB)

# Global (not per user) names: the registry of users, for the snapshotter.
USERS_REGISTRY = "users"
REGISTRY_JOINS = "joins"
LIMIT_ASKS = "limit-asks"
REGISTRY_TAG = "registry"  # the hash tag of the registry's keys: one slot of their own
FLEET_SWEEP = "sweeper"
# Stream per OutcomeLogger namespace (syntha_redis.reports); agent outcomes are
# per deployment, not per user, so they live outside every user's keyspace.
OUTCOMES = "outcomes"
# Consumer group on every user's stream, shared by all snapshotter processes.
SNAPSHOT_GROUP = "snapshotter"

_PREFIX = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def encode(identifier: str) -> str:
    """Lossless token for ``identifier``: only ``[A-Za-z0-9._-%]`` remain."""
    if _SAFE.fullmatch(identifier):
        return identifier  # the common case, on every call's hot path
    return quote(identifier, safe="").replace("~", "%7E")


def decode(token: str | bytes) -> str:
    text = token.decode("ascii") if isinstance(token, bytes) else token
    return unquote(text) if "%" in text else text


def validate_identifier(value: object, field: str, max_length: int) -> str:
    """Return ``value`` if it is a usable identifier, else raise SynthaValidationError."""
    if not isinstance(value, str):
        raise SynthaValidationError(
            f"{field} must be a string, got {type(value).__name__}",
            field=field,
            suggestions=[f"Pass {field} as a non-empty string"],
        )
    if not value.strip():
        raise SynthaValidationError(
            f"{field} must not be empty",
            field=field,
            suggestions=[f"Pass a non-empty {field}"],
        )
    if len(value) > max_length:
        raise SynthaValidationError(
            f"{field} is {len(value)} characters; the limit is {max_length}",
            field=field,
            suggestions=[f"Use a {field} of at most {max_length} characters"],
        )
    if _CONTROL.search(value):
        raise SynthaValidationError(
            f"{field} contains control characters",
            field=field,
            suggestions=[f"Remove control characters (e.g. NUL, newline) from the {field}"],
        )
    if _SURROGATE.search(value):
        # a lone surrogate ('\ud800') is not text: it has no UTF-8 form to encode
        raise SynthaValidationError(
            f"{field} contains a lone surrogate code point (not valid Unicode text)",
            field=field,
            suggestions=[
                f"Pass the {field} as valid Unicode text; decode bytes with "
                "errors='replace' rather than 'surrogateescape'"
            ],
        )
    return value


@functools.lru_cache(maxsize=4096)
def decode_csv(csv: str | bytes) -> tuple[str, ...]:
    """Names from a csv of tokens, the form in which scripts store routing (cached:
    the same few topic and subscriber lists recur across many items and events)."""
    text = csv.decode("ascii") if isinstance(csv, bytes) else csv
    return tuple(decode(t) for t in text.split(",")) if text else ()


def token(identifier: object, field: str, max_length: int) -> str:
    """``encode(validate_identifier(...))``, with one regex match for the common case."""
    if isinstance(identifier, str) and len(identifier) <= max_length and _SAFE.fullmatch(
        identifier
    ):
        return identifier
    return encode(validate_identifier(identifier, field, max_length))


def validate_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise SynthaValidationError(
            f"key prefix {prefix!r} must be 1-64 characters of [A-Za-z0-9._-]",
            field="key_prefix",
            suggestions=["Use a short prefix such as 'syntha' or 'myapp-prod'"],
        )
    return prefix


class UserKeys:
    """Names of one user's keys. Build it once per mesh; it holds only strings."""

    __slots__ = ("prefix", "user_id", "root")

    def __init__(self, prefix: str, user_id: str) -> None:
        self.prefix = prefix
        self.user_id = user_id
        self.root = f"{prefix}:{{u:{encode(user_id)}}}:"

    def item(self, key: str) -> str:
        return self.root + ITEM + encode(key)

    def item_by_token(self, token: str) -> str:
        """The item hash for an already-encoded key (as events carry it)."""
        return self.root + ITEM + token

    @property
    def version(self) -> str:
        return self.root + VERSION

    @property
    def subscribed_agents(self) -> str:
        return self.root + SUBSCRIBED_AGENTS

    @property
    def items(self) -> str:
        return self.root + ITEMS

    @property
    def all_topics(self) -> str:
        return self.root + TOPICS

    def agent_topics(self, agent: str) -> str:
        return self.root + AGENT_TOPICS + encode(agent)

    def topic_subscribers(self, topic: str) -> str:
        return self.root + TOPIC_SUBSCRIBERS + encode(topic)

    def post_permissions(self, agent: str) -> str:
        return self.root + POST_PERMISSIONS + encode(agent)

    @property
    def stream(self) -> str:
        return self.root + STREAM

    @property
    def wake_channel(self) -> str:
        return self.root + WAKE_CHANNEL

    def epoch(self, capture_group: str) -> str:
        """The epoch marker of the snapshot database whose capture group is named."""
        return self.root + EPOCH + capture_group.rsplit(":", 1)[-1]

    @property
    def restoring(self) -> str:
        return self.root + RESTORING

    @property
    def captured(self) -> str:
        return self.root + CAPTURED

    @property
    def gone(self) -> str:
        return self.root + GONE

    @property
    def snapshot_db(self) -> str:
        return self.root + SNAPSHOT_DB


def user_of_root(root: str) -> str:
    """The user id of a user root (``<prefix>:{u:<encoded user>}:``)."""
    start = root.index("{u:") + 3
    return decode(root[start:root.index("}", start)])


def users_registry(prefix: str) -> str:
    """The set of encoded user ids that have written (syntha_redis.core.registry; admin)."""
    return f"{prefix}:{{{REGISTRY_TAG}}}:{USERS_REGISTRY}"


def limit_asks(prefix: str) -> str:
    """The stream tenants ask a trusted worker for their limits on (write-only)."""
    return f"{prefix}:{{{REGISTRY_TAG}}}:{LIMIT_ASKS}"


def registry_joins(prefix: str) -> str:
    """The stream processes announce their users on (tenants: write-only)."""
    return f"{prefix}:{{{REGISTRY_TAG}}}:{REGISTRY_JOINS}"


def deployment_limits(prefix: str) -> str:
    """The hash of the deployment's limits, which each user's copy is made from
    (hash-tagged, as every other name: a slot of its own on a Cluster)."""
    return f"{prefix}:{{{LIMITS}}}"


def old_deployment_limits(prefix: str) -> str:
    """Where versions before the hash tag kept it (read once, to migrate)."""
    return f"{prefix}:{LIMITS}"


def is_snapshot_group(name: str) -> bool:
    """Whether a stream consumer group is a snapshot database's capture group."""
    return name == SNAPSHOT_GROUP or name.startswith(SNAPSHOT_GROUP + ":")


def fleet_sweep_lease(prefix: str) -> str:
    """Lease of the one process that sweeps every registered user this interval."""
    return f"{prefix}:{FLEET_SWEEP}"


def outcomes_stream(prefix: str, namespace: str) -> str:
    """The stream of one OutcomeLogger namespace."""
    return f"{prefix}:{OUTCOMES}:{encode(namespace)}"
