"""Limits the scripts enforce, kept in Redis so that every client is held to them.

A deployment (one Redis, one key prefix) has one set of limits, the hash
``<prefix>:{limits}``: quotas per user (items, bytes), the size of one value,
topics and subscribers per item, topics per agent, the length of a key and of
a name, and what one call may do: the stream length it trims to, the expired
items it prunes, the items of one batch. It
is written by an admin (``syntha-redis limits set``), or at first start by
the first process that needs it, from that process's ``Settings``.

A script runs in its user's hash slot and cannot read that hash on a Redis
Cluster, so each user holds a packed copy in its own slot, ``<root>limits``.
A script that finds no copy answers ``SYNTHA_LIMITS_NEEDED`` before it does
anything; the store then copies the deployment's limits for that user and
sends the call again (``provision``). ``limits set`` rewrites the copies of
every registered user, so a change holds at once.

Whatever a client's own ``Settings`` say, and even for a raw EVALSHA of a
script, these are the limits that hold: a client with other settings meets a
typed error naming the deployment's limit, never a silent bypass. Tenant
credentials (``syntha_redis.ops.acl``) may read their copy but not write it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from syntha_redis.core import keys, registry
from syntha_redis.core.calls import CommandCall, Operation
from syntha_redis.core.codec import text
from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaConfigurationError, SynthaPermissionError

__all__ = [
    "FIELDS",
    "LIMITS_NEEDED",
    "SynthaConfigurationWarning",
    "agreement",
    "deployment_limits",
    "packed",
    "parse",
    "provision",
    "read_limits",
    "sources",
    "set_limits",
]


class SynthaConfigurationWarning(UserWarning):
    """A setting of this process that the deployment overrides (its limits hold)."""


# The Settings fields that live in Redis, in the order of the packed copy that
# lua/_prelude.lua's limits() reads. 0 means no limit.
FIELDS = (
    "max_items_per_user",
    "max_bytes_per_user",
    "max_value_bytes",
    "max_topics_per_item",
    "max_subscribers_per_item",
    "max_topics_per_agent",
    "max_key_length",
    "max_name_length",
    "stream_max_length",
    "prune_batch",
    "max_batch_items",
)
LIMITS_NEEDED = "SYNTHA_LIMITS_NEEDED"

# The copy holds what a script can measure: encoded sizes. A value of
# max_value_bytes encodes with at most a 5-byte msgpack header; a key of
# max_key_length characters (a topic, agent or subscriber name of
# max_name_length) percent-encodes to at most 12 bytes a character.
VALUE_FRAMING = 16
KEY_BYTES_PER_CHAR = 12

def from_settings(settings: Settings) -> dict[str, int]:
    return {name: int(getattr(settings, name) or 0) for name in FIELDS}


def packed(limits: Mapping[str, int]) -> str:
    """The per-user copy: the limits as the scripts measure them, '|'-separated."""
    measured = dict(limits)
    if measured["max_value_bytes"]:
        measured["max_value_bytes"] += VALUE_FRAMING
    measured["max_key_length"] *= KEY_BYTES_PER_CHAR
    measured["max_name_length"] *= KEY_BYTES_PER_CHAR
    return "|".join(str(measured[name]) for name in FIELDS)


def parse(reply: Any) -> dict[str, int]:
    found = {text(k): int(v) for k, v in (reply or {}).items()}
    return {name: found[name] for name in FIELDS if name in found}


def read_limits(settings: Settings) -> Operation[dict[str, int]]:
    """The deployment's limits as stored, writing nothing (``limits show``): those
    of the hash-tagged name, else those an older version kept under
    ``<prefix>:limits``; {} for a deployment that has none yet."""
    found = parse((yield CommandCall(("HGETALL", keys.deployment_limits(settings.key_prefix)))))
    if not found:
        try:
            found = parse((yield CommandCall(("HGETALL", keys.old_deployment_limits(
                settings.key_prefix)))))
        except SynthaPermissionError:
            pass  # tenant credentials may not read the old name: an admin migrates it
    return found


def deployment_limits(settings: Settings) -> Operation[dict[str, int]]:
    """The deployment's limits; written from ``settings`` first if it has none.

    HSETNX: two processes starting at once agree on the first one's values,
    and fields added by a later version are filled in without touching the rest.
    A deployment of an older version (limits under ``<prefix>:limits``, with no
    hash tag) keeps its values: they are copied to the new name first.
    """
    name = keys.deployment_limits(settings.key_prefix)
    found = yield from read_limits(settings)
    if len(found) < len(FIELDS):
        for field, value in (from_settings(settings) | found).items():
            yield CommandCall(("HSETNX", name, field, value))
        found = parse((yield CommandCall(("HGETALL", name))))
    return found


# (redis url, prefix, the limits compared) already found to agree with the
# deployment in this process: a mesh handle per request costs no round trip.
_agreed: set[tuple[str | None, str, tuple[tuple[str, int], ...]]] = set()


def agreement(settings: Settings, explicit: Iterable[str],
              from_env: Iterable[str]) -> Operation[None]:
    """Check this process's limits against the deployment's, which are the ones
    that hold: a limit passed explicitly (``explicit``) that differs raises
    SynthaConfigurationError; one from the environment (``from_env``) warns,
    once per process. A deployment without limits yet takes these at first use."""
    mine = from_settings(settings)
    compared = tuple(sorted((f, mine[f]) for f in {*explicit, *from_env} if f in mine))
    seen = (settings.redis_url, settings.key_prefix, compared)
    if not compared or seen in _agreed:
        return
    held = yield from read_limits(settings)
    explicit = set(explicit)
    for field, value in compared:
        if field not in held or held[field] == value:
            continue
        what = f"{field}={value or None} differs from this deployment's {field}={held[field]}"
        fix = (f"`syntha-redis limits set {field}={value}` changes the deployment's (for "
               "every client); or drop the setting here")
        if field in explicit:
            raise SynthaConfigurationError(
                f"{what}: the deployment's limits hold for every client",
                config_key=field,
                suggestions=[fix],
            )
        warnings.warn(f"SYNTHA_{field.upper()}: {what}, which holds; {fix}",
                      SynthaConfigurationWarning, stacklevel=2)
    _agreed.add(seen)


def sources(options: Mapping[str, Any], given: Settings | None) -> tuple[frozenset[str],
                                                                          frozenset[str]]:
    """(limits a mesh was given explicitly, limits it took from SYNTHA_* variables),
    from its keyword ``options`` and the ``Settings`` object it was given, if any."""
    explicit = {f for f in FIELDS if options.get(f) is not None}
    if given is not None:
        return frozenset(explicit | (given.model_fields_set & set(FIELDS))), frozenset()
    env = {f for f in FIELDS if os.environ.get(f"SYNTHA_{f.upper()}")} - explicit
    return frozenset(explicit), frozenset(env)


def provision(settings: Settings, root: str) -> Operation[dict[str, int]]:
    """Copy the deployment's limits into the user of ``root``; returns them.

    Tenant credentials may not (their ACL makes the copy read-only): the user
    is then announced, so that a trusted worker (``syntha-redis snapshot
    run``) provisions it within seconds, and the call fails with what to do.
    """
    try:
        limits = yield from deployment_limits(settings)
        yield CommandCall(("SET", root + keys.LIMITS, packed(limits)))
    except SynthaPermissionError as e:
        user = keys.user_of_root(root)
        yield registry.ask_for_limits(settings.key_prefix, user)
        raise SynthaConfigurationError(
            f"user {user!r} has no copy of the deployment's limits, and these credentials "
            "may not write one",
            config_key="limits",
            cause=e,
            suggestions=["Retry in a few seconds: a running `syntha-redis snapshot run` "
                         "provisions users that ask for it",
                         "Or run `syntha-redis limits sync` (or `acl apply`) as admin"],
        ) from e
    return limits


def set_limits(settings: Settings, changes: Mapping[str, int],
               users: Iterable[str]) -> Operation[dict[str, int]]:
    """Change the deployment's limits and the copies of ``users`` (admin)."""
    unknown = set(changes) - set(FIELDS)
    bad = {k for k, v in changes.items() if isinstance(v, bool) or not isinstance(v, int)
           or v < 0}
    if unknown or bad:
        raise SynthaConfigurationError(
            f"cannot set limits {sorted(unknown | bad)}",
            config_key=sorted(unknown | bad)[0],
            suggestions=[f"Set any of {', '.join(FIELDS)} to a whole number (0 = none)"],
        )
    limits = yield from deployment_limits(settings)
    if changes:
        yield CommandCall(("HSET", keys.deployment_limits(settings.key_prefix),
                           *(x for kv in changes.items() for x in kv)))
        limits |= dict(changes)
    for user in users:
        yield CommandCall(("SET", keys.UserKeys(settings.key_prefix, user).root + keys.LIMITS,
                           packed(limits)))
    return limits
