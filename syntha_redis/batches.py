"""Batches: many items of one user in one script call, all or nothing.

Every item of a user lives in that user's hash slot, so one EVALSHA carries
the whole batch; that is the only way to batch scripts on Redis Cluster, where
redis-py refuses scripts inside pipelines. ``lua/push_many.lua`` checks every
item before it writes any (Redis cannot roll a script back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syntha_redis.codec import text
from syntha_redis.exceptions import SynthaValidationError
from syntha_redis.models import ContextItem
from syntha_redis.store import Operation
from syntha_redis.topic_operations import TopicOperations

__all__ = ["BatchOperations"]

# What one push_many() item may hold: push()'s arguments.
_PUSH_FIELDS = frozenset(
    {"key", "value", "subscribers", "topics", "ttl", "agent_name", "expected_version"}
)


class BatchOperations(TopicOperations):
    """The mesh's operations plus ``push_many`` and ``get_many``."""

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
        for item in items:
            if not isinstance(item, Mapping) or not _PUSH_FIELDS.issuperset(item):
                raise SynthaValidationError(
                    f"each batch item must be a dict of {', '.join(sorted(_PUSH_FIELDS))}, "
                    f"got {item!r:.80}",
                    field="items",
                    suggestions=['Pass items like {"key": "k", "value": 1, "topics": ["t"]}'],
                )
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
    ) -> Operation[dict[str, ContextItem]]:
        """The live items among ``item_keys`` (visible to ``agent_name``), in request order."""
        if isinstance(item_keys, str) or not isinstance(item_keys, Iterable):
            raise SynthaValidationError(
                f"keys must be a list of strings, got {type(item_keys).__name__}",
                field="keys",
                suggestions=['Pass keys as a list, e.g. ["a", "b"]'],
            )
        wanted = list(dict.fromkeys(item_keys))
        self._batch_size(len(wanted), "keys")
        tokens = [self.key_token(key) for key in wanted]
        agent = "" if agent_name is None else self.name_token(agent_name, "agent_name")
        if not tokens:
            return {}
        reply = yield self._script("get_many", agent, *tokens)
        return {
            key: self._item(key, [tok, *found[1:]])
            for key, tok, found in zip(wanted, tokens, reply, strict=True)
            if int(found[0]) == 1
        }
