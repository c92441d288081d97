"""Batches: many items of one user in one script call, all or nothing.

Every item of a user lives in that user's hash slot, so one EVALSHA carries
the whole batch; that is the only way to batch scripts on Redis Cluster, where
redis-py refuses scripts inside pipelines. ``lua/push_many.lua`` checks every
item before it writes any (Redis cannot roll a script back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syntha_redis.core.codec import text, too_deep
from syntha_redis.core.models import StoredItem
from syntha_redis.core.store import Operation
from syntha_redis.core.topic_operations import TopicOperations
from syntha_redis.exceptions import SynthaValidationError

__all__ = ["BatchOperations", "batch_items"]

# Topics and subscribers of all the items of one push_many(), counted (lua/push_many.lua
# holds a batch to as many index entries, so that one call stays short).
MAX_BATCH_ROUTES = 10_000

# What one push_many() item may hold: push()'s arguments.
_PUSH_FIELDS = frozenset(
    {"key", "value", "subscribers", "topics", "ttl", "agent_name", "expected_version"}
)


def _bad_item(item: object, problem: str) -> SynthaValidationError:
    shown = repr(item)[:80] if not too_deep(item) else type(item).__name__
    return SynthaValidationError(
        f"push_many item {problem}: {shown.encode('utf-8', 'backslashreplace').decode()}",
        field="items",
        suggestions=['Pass items like {"key": "k", "value": 1, "topics": ["t"]}, '
                     f"with only these fields: {', '.join(sorted(_PUSH_FIELDS))}"],
    )


def batch_items(items: object) -> list[Mapping[str, Any]]:
    """``items`` as a list of push()-argument mappings, each with a key and a value."""
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise SynthaValidationError(
            f"push_many takes a list of item dicts, got {type(items).__name__}",
            field="items",
            suggestions=['Pass a list, e.g. [{"key": "a", "value": 1}, {"key": "b", "value": 2}]'],
        )
    listed = list(items)
    for item in listed:
        if not isinstance(item, Mapping):
            raise _bad_item(item, f"must be a dict, not {type(item).__name__}")
        unknown = [f for f in item if f not in _PUSH_FIELDS]
        if unknown:
            raise _bad_item(item, f"has unknown field(s) {', '.join(map(repr, unknown))}")
        missing = [f for f in ("key", "value") if f not in item]
        if missing:
            raise _bad_item(item, f"lacks {' and '.join(missing)}")
    return listed


class BatchOperations(TopicOperations):
    """The mesh's operations plus ``push_many`` and ``get_many``."""

    batch_items = staticmethod(batch_items)

    def _batch_size(self, count: int, what: str) -> None:
        limit = self.settings.max_batch_items
        if count > limit:
            raise SynthaValidationError(
                f"{count} {what} in one call; the limit is {limit}",
                field=what,
                suggestions=[f"Pass at most {limit} {what} per call; split larger batches"],
            )

    def push_many(self, items: Iterable[Mapping[str, Any]]) -> Operation[list[int]]:
        """Push every item (mappings of push()'s arguments) or none; returns versions."""
        specs: list[tuple[Any, ...]] = []
        by_token: dict[str, Mapping[str, Any]] = {}
        for item in batch_items(items):
            spec = self.item_args(**item)
            if spec[0] in by_token:
                raise SynthaValidationError(
                    f"key {item['key']!r} appears twice in one batch",
                    field="items",
                    suggestions=["Push each key at most once per batch"],
                )
            by_token[spec[0]] = item
            specs.append(spec)
        self._batch_size(len(specs), "items")
        routes = sum(len(s) and s.count(",") + 1 for spec in specs for s in spec[3:5])
        if routes > MAX_BATCH_ROUTES:
            raise SynthaValidationError(
                f"the batch routes its items to {routes} topics and subscribers in all; "
                f"the limit is {MAX_BATCH_ROUTES}",
                field="items",
                suggestions=["Split the batch into smaller ones"],
            )
        if not specs:
            return []
        reply = yield from self._mutate("push_many", *(arg for spec in specs for arg in spec))
        if int(reply[0]) == 1:
            return [int(v) for v in reply[2::2]]
        failed = by_token[text(reply[2])]
        yield from self._raise_push_failure(
            reply, failed["key"], failed.get("agent_name"), failed.get("expected_version")
        )
        raise AssertionError("unreachable")

    def get_many(
        self, item_keys: Iterable[str], agent_name: str | None = None
    ) -> Operation[dict[str, StoredItem]]:
        """The live items among ``item_keys`` (visible to ``agent_name``), in request order."""
        if isinstance(item_keys, str) or not isinstance(item_keys, Iterable):
            raise SynthaValidationError(
                f"keys must be a list of strings, got {type(item_keys).__name__}",
                field="keys",
                suggestions=['Pass keys as a list, e.g. ["a", "b"]'],
            )
        # token -> key, first occurrence first; a key that is not a string is refused
        by_token = {self.key_token(key): key for key in item_keys}
        self._batch_size(len(by_token), "keys")
        tokens, wanted = list(by_token), list(by_token.values())
        agent = "" if agent_name is None else self.name_token(agent_name, "agent_name")
        if not tokens:
            return {}
        reply = yield self._script("get_many", agent, *tokens)
        return {
            key: self._item(key, [tok, *found[1:]])
            for key, tok, found in zip(wanted, tokens, reply, strict=True)
            if int(found[0]) == 1
        }
