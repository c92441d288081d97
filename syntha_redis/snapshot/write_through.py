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

from syntha_redis.core import keys
from syntha_redis.core.calls import ScriptCall
from syntha_redis.core.codec import text
from syntha_redis.snapshot.rows import PERMISSIONS, SUBSCRIBED, AgentRow, Batch, ItemRow

__all__ = ["rows_of", "NEEDS_CAPTURE"]

HEAD = 6  # the common ARGV head of mutating scripts (lua/_prelude.lua)
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


def _push(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    spec = args[HEAD:HEAD + ITEM_ARGS]
    return Batch(items=[_item(user_id, spec, int(reply[1]), int(reply[2]), int(reply[3]))])


def _push_many(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    specs = args[HEAD:]
    return Batch(items=[
        _item(user_id, specs[i:i + ITEM_ARGS], int(reply[2 + 2 * n]), int(reply[1]),
              int(reply[3 + 2 * n]))
        for n, i in enumerate(range(0, len(specs), ITEM_ARGS))
    ])


def _remove(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    return Batch(items=[ItemRow(user_id, keys.decode(args[HEAD]), None, [], [], None,
                                int(reply[1]), 0, None, deleted=True)])


def _subscribe(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    return Batch(agents=[AgentRow(user_id, keys.decode(args[HEAD]), SUBSCRIBED,
                                  _names(reply[2]), int(reply[1]))])


def _unsubscribe(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    if not text(reply[2]):  # nothing was followed: nothing changed
        return Batch()
    return Batch(agents=[AgentRow(user_id, keys.decode(args[HEAD]), SUBSCRIBED,
                                  _names(reply[3]), int(reply[1]))])


def _permissions(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    return Batch(agents=[AgentRow(user_id, keys.decode(args[HEAD]), PERMISSIONS,
                                  _names(args[HEAD + 1]), int(reply[1]))])


def _clear(user_id: str, args: tuple[Any, ...], reply: Any) -> Batch:
    # chunks before the last reply {items remaining, deleted, 0}: nothing to record yet
    return Batch(clears=[(user_id, int(reply[2]))]) if int(reply[0]) == 0 else Batch()


# script -> its rows, for the replies that report success with status 1 (clear: any)
_WRITES = {"push": _push, "push_many": _push_many, "remove": _remove,
           "subscribe": _subscribe, "unsubscribe": _unsubscribe, "permissions": _permissions}


def rows_of(user_id: str, call: ScriptCall, reply: Any) -> Batch:
    """The rows of a script call; empty for reads, refusals and no-ops."""
    if call.name == "clear":
        return _clear(user_id, call.args, reply)
    rows = _WRITES.get(call.name)
    if rows is None or int(reply[0]) != 1:
        return Batch()
    return rows(user_id, call.args, reply)
