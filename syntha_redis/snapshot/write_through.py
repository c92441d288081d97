"""Sync durability: the snapshot rows a mutating script call stands for.

With ``durability="sync"`` the mesh's store hands every script call it ran,
with the reply, to ``rows_of``, and commits the rows before the call returns
to the caller. The rows come from the call's own arguments and the script's
reply (version, times), so no further Redis read is needed: a Redis that dies
right after the script cannot keep an acknowledged write out of the snapshot.

Because this sits in the store, every path that writes (the mesh, tool calls,
batches, the async mesh) is written through alike.
"""

from __future__ import annotations

from typing import Any

from syntha_redis import keys
from syntha_redis.codec import text
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow
from syntha_redis.store import ScriptCall

__all__ = ["rows_of", "NEEDS_CAPTURE"]

HEAD = 6  # the common ARGV head of mutating scripts (lua/_prelude.lua)
QUOTAS = 2  # push and push_many: max items, max bytes
ITEM_ARGS = 7  # one item spec: token, value, author, topics, subscribers, ttl, expected

# Scripts whose rows are too many to derive here (a topic deletion changes
# every item on the topic and every follower): the caller waits until the
# snapshotter has captured the user's stream instead.
NEEDS_CAPTURE = frozenset({"delete_topic"})


def _names(csv: Any) -> list[str]:
    return list(keys.decode_csv(text(csv or "")))


def _item(user_id: str, spec: tuple[Any, ...], version: int, created: int,
          expires: int) -> ItemRow:
    tok, value, author, topics, subs = spec[:5]
    return ItemRow(user_id, keys.decode(tok), bytes(value), _names(topics), _names(subs),
                   keys.decode(author) if author else None, version, created, expires or None)


def rows_of(user_id: str, call: ScriptCall, reply: Any) -> Batch:
    """The rows of a script call that succeeded; empty for reads and refusals."""
    args, status = call.args, int(reply[0]) if isinstance(reply, list) and reply else None
    batch = Batch()
    if call.name == "push" and status == 1:
        spec = args[HEAD + QUOTAS:HEAD + QUOTAS + ITEM_ARGS]
        batch.items.append(_item(user_id, spec, int(reply[1]), int(reply[2]), int(reply[3])))
    elif call.name == "push_many" and status == 1:
        specs = args[HEAD + QUOTAS:]
        for n, i in enumerate(range(0, len(specs), ITEM_ARGS)):
            version, expires = int(reply[2 + 2 * n]), int(reply[3 + 2 * n])
            batch.items.append(_item(user_id, specs[i:i + ITEM_ARGS], version,
                                     int(reply[1]), expires))
    elif call.name == "remove" and status == 1:
        batch.items.append(ItemRow(user_id, keys.decode(args[HEAD]), None, [], [], None,
                                   int(reply[1]), 0, None, deleted=True))
    elif call.name == "subscribe" and status == 1:
        batch.agents.append(AgentRow(user_id, keys.decode(args[HEAD]), SUBSCRIBED,
                                     _names(reply[2]), int(reply[1])))
    elif call.name == "unsubscribe" and status == 1 and text(reply[2]):
        batch.agents.append(AgentRow(user_id, keys.decode(args[HEAD]), SUBSCRIBED,
                                     _names(reply[3]), int(reply[1])))
    elif call.name == "permissions" and status == 1:
        batch.agents.append(AgentRow(user_id, keys.decode(args[HEAD]), PERMISSIONS,
                                     _names(args[HEAD + 1]), int(reply[1])))
    elif call.name == "clear" and status == 0:  # the last chunk: everything is gone
        batch.clears.append((user_id, int(reply[2])))
    return batch
