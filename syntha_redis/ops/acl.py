"""Per-tenant Redis ACL rules: the server enforces what ``keys.py`` promises.

The library already keeps every key and channel of a user under one root
(``<prefix>:{u:<encoded user>}:``). ``ACL SETUSER`` rules rendered here make
Redis itself refuse anything else to a connection that logs in as that
tenant, so a bug, or a worker process whose credentials leak, cannot read or
change another tenant's context (defence in depth, see
``notes/reliability_style.md`` A3). A refusal reaches the caller as
``SynthaPermissionError``.

What a tenant may do:

- keys: only its user's root: read and write on the keys its processes write
  (``keys.WRITABLE``), read only on ``<root>limits``, its copy of the
  deployment's limits, which the scripts enforce (``syntha_redis.core.limits``);
- channels: only ``<root>wake``, the user's sharded wake-up channel;
- commands: exactly those the mesh sends (``CLIENT_COMMANDS``) and those its
  Lua scripts call (``SCRIPT_COMMANDS``): ACLs apply inside scripts too. No
  EVAL, SCRIPT LOAD or FUNCTION: a tenant runs only the scripts an admin or a
  trusted worker loaded (``syntha-redis scripts load``), so it can neither
  stall the server with a loop of its own nor grow the script cache;
- the users registry: ``XADD`` to ``<prefix>:{registry}:joins`` only, and
  write-only, through a selector (and to ``limit-asks``, to ask a trusted
  worker for the limits it may not write). XADD answers with an entry id, so
  the tenant learns nothing about which other users exist
  (``syntha_redis.core.registry``).

What ACLs cannot do: a script runs with its caller's permissions, so the
commands the scripts need on the tenant's own keys are also open to the
tenant directly (a raw HSET into its own item hashes escapes the quotas).
Other tenants, the limits and the registry stay out of reach.

Names come from ``keys.py`` only. Identifiers are percent-encoded there, so
they hold no glob character; ``glob_escape`` escapes them anyway, so a change
to the encoding can never turn a tenant's pattern into a wider one.

Admin tasks (the snapshotter, restore, ``OutcomeLogger``) read every user or
keys outside a user's root: run them under a separate, wider Redis user.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from syntha_redis.core import keys, limits
from syntha_redis.core.config import Settings
from syntha_redis.core.store import CommandCall, Store
from syntha_redis.exceptions import SynthaConfigurationError

__all__ = [
    "CLIENT_COMMANDS",
    "SCRIPT_COMMANDS",
    "REGISTRY_COMMANDS",
    "TenantRules",
    "allowed_commands",
    "apply_rules",
    "glob_escape",
    "tenant_rules",
    "tenant_username",
]

# Commands the library sends itself from a tenant's process, and why.
CLIENT_COMMANDS: dict[str, str] = {
    "evalsha": "every mesh operation runs a script of lua/",
    "hmget": "a system read of one item (get without agent_name)",
    "smembers": "topic, subscriber and post-permission lookups",
    "zrange": "the topics an agent follows, in subscription order",
    "ssubscribe": "watch() sleeps on the user's wake-up channel",
    "ping": "mesh.ping(), mesh.health() and connection health checks",
    "script|exists": "mesh.health() reports whether the scripts are cached",
    "xlen": "mesh.health() reports the length of the user's change stream",
    # ACLs cannot limit INFO to sections; it shows server-wide figures (memory,
    # clients, key counts per database), never key names or values.
    "info": "mesh.health() reads the server version and memory use",
    "hgetall": "mesh.health() shows the deployment's limits (read only)",
}

# Commands the scripts of lua/ call. Scripts run under the caller's ACL, so each
# must be allowed; tests/acl checks this set against the scripts.
SCRIPT_COMMANDS: frozenset[str] = frozenset(
    {
        "decrby", "del", "exists", "get", "hdel", "hget", "hmget", "hset", "hstrlen",
        "incr", "incrby", "persist", "pexpire", "pexpireat", "sadd", "scard", "set",
        "sismember", "smembers", "spop", "spublish", "srandmember", "srem", "sscan", "time",
        "xadd", "xlen", "xrange", "xrevrange", "xtrim", "zadd", "zcount", "zrange",
        "zmscore", "zrangebyscore", "zrem", "zremrangebyscore", "zscore",
    }
)

# The only commands a tenant may run on the registry's joins stream.
REGISTRY_COMMANDS: tuple[str, ...] = ("xadd",)

_GLOB = re.compile(r"([*?\[\]\\])")
_BARE = re.compile(r"[A-Za-z0-9_.:#~&%|+*{}@-]+")


def allowed_commands() -> list[str]:
    """Every command a tenant may run on its own keys, sorted."""
    return sorted(set(CLIENT_COMMANDS) | SCRIPT_COMMANDS)


def glob_escape(text: str) -> str:
    """``text`` as a Redis glob that matches only itself."""
    return _GLOB.sub(r"\\\1", text)


_URL_PLAIN = re.compile(r"[A-Za-z0-9.-]")


def _url_plain(text: str) -> str:
    """``text`` in letters, digits, ``.``, ``-`` and ``_``: every other UTF-8 byte is
    written ``_XX`` (``_`` itself too, so no two texts meet)."""
    return "".join(c if _URL_PLAIN.fullmatch(c) else
                   "".join(f"_{b:02X}" for b in c.encode("utf-8")) for c in text)


def tenant_username(prefix: str, user_id: str) -> str:
    """The default Redis user of a tenant: ``<prefix>~<user id>``, the user id with
    every character but letters, digits, ``.`` and ``-`` written ``_XX`` per byte.

    So the name is the same inside a ``redis://name:password@host`` URL as in
    ``ACL LIST`` (no character of it is percent-decoded or needs escaping, and Redis
    refuses spaces in user names), and two tenants never share one: the prefix holds
    no ``~`` and the encoded user id none either.
    """
    return f"{keys.validate_prefix(prefix)}~{_url_plain(user_id)}"


@dataclass(frozen=True)
class TenantRules:
    """The ``ACL SETUSER`` of one tenant."""

    username: str
    rules: tuple[str, ...]

    @property
    def command(self) -> tuple[str, ...]:
        return ("ACL", "SETUSER", self.username, *self.rules)

    def render(self) -> str:
        """One line for ``redis-cli``: arguments with spaces or quotes are quoted."""
        return " ".join(_cli_quote(arg) for arg in self.command)


def _cli_quote(arg: str) -> str:
    if _BARE.fullmatch(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def tenant_rules(
    user_id: str,
    prefix: str = "syntha",
    password: str | None = None,
    username: str | None = None,
    max_length: int = 256,
) -> TenantRules:
    """The rules confining one tenant to its user's root.

    With ``password`` the user is reset and gets only that password (sent as
    its SHA-256, so the rendered command holds no secret). Without it the
    user's existing passwords are kept, so rules can be re-applied after an
    upgrade without handing out new credentials.
    """
    keys.validate_identifier(user_id, "user_id", max_length)
    user = keys.UserKeys(keys.validate_prefix(prefix), user_id)
    rules: list[str] = []
    if password is not None:
        if not password:
            raise SynthaConfigurationError(
                "the tenant password is empty",
                config_key="password",
                suggestions=["Set the password variable to a long random secret"],
            )
        rules += ["reset", f"#{hashlib.sha256(password.encode()).hexdigest()}"]
    rules += [
        "on",
        "resetkeys",
        # the root itself: scripts name it as KEYS[1] (it never holds a value)
        f"~{glob_escape(user.root)}",
        *(f"~{glob_escape(user.root + suffix)}{'*' if suffix.endswith(':') else ''}"
          for suffix in keys.WRITABLE),
        f"%R~{glob_escape(user.root + keys.LIMITS)}",
        f"%R~{glob_escape(keys.deployment_limits(user.prefix))}",
        "resetchannels",
        f"&{glob_escape(user.wake_channel)}",
        "-@all",
        *(f"+{name}" for name in allowed_commands()),
        "clearselectors",
        "(%W~{} %W~{} {})".format(
            glob_escape(keys.registry_joins(user.prefix)),
            glob_escape(keys.limit_asks(user.prefix)),
            " ".join(f"+{c}" for c in REGISTRY_COMMANDS),
        ),
    ]
    return TenantRules(username or tenant_username(prefix, user_id), tuple(rules))


def apply_rules(settings: Settings, rules: TenantRules, user_id: str | None = None) -> None:
    """Run ``rules`` on the server of ``settings`` (needs an admin connection).

    With ``user_id``, also give that user its copy of the deployment's limits,
    which the tenant may read but not write (``syntha_redis.core.limits``).
    On a Cluster run it against every primary: ACLs are per node.
    """
    store = Store(settings)
    store.execute(CommandCall(rules.command))
    if user_id is not None:
        store.run(limits.provision(settings, keys.UserKeys(settings.key_prefix, user_id).root))
