"""The indexes hold exactly what the items say, whatever path wrote them.

push and push_many write only what changed and collect index additions per
call, so these drive the paths that differ: a new key, a key whose expired item
still awaits its prune and an overwrite that moves an item between indexes.
"""

from __future__ import annotations

import time
from typing import Any

from syntha_redis import ContextMesh


def _text(raw: Any, *args: Any) -> Any:
    reply = raw.execute_command(*args)
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, list | set):
        return {m.decode() if isinstance(m, bytes) else m for m in reply}
    return reply


def assert_indexes_match_items(mesh: ContextMesh, raw: Any) -> None:
    """Every index entry names a stored item routed that way, and vice versa."""
    root = mesh.operations.keys.root
    items = _text(raw, "SMEMBERS", root + "items")
    expected: dict[str, set[str]] = {"global": set()}
    timed, size = {}, 0
    for tok in items:
        value, topics, subs, expires = raw.hmget(root + "item:" + tok, "value", "topics",
                                                 "subs", "expires")
        assert value is not None, f"{tok} is indexed but not stored"
        topics, subs = topics.decode(), subs.decode()
        # the byte quota counts all an item stores: key, value, topics, subscribers
        size += len(tok) + len(value) + len(topics) + len(subs)
        if not topics and not subs:
            expected["global"].add(tok)
        for t in filter(None, topics.split(",")):
            expected.setdefault("titems:" + t, set()).add(tok)
        for s in filter(None, subs.split(",")):
            expected.setdefault("direct:" + s, set()).add(tok)
        if int(expires):
            timed[tok] = int(expires)
    names = {n.decode()[len(root):] for n in raw.scan_iter(match=root + "*")}
    for name in names:
        if name.startswith(("titems:", "direct:")):
            expected.setdefault(name, set())
    for name, members in expected.items():
        assert _text(raw, "SMEMBERS", root + name) == members, name
    scores = raw.zrange(root + "exp", 0, -1, withscores=True)
    assert {m.decode(): int(s) for m, s in scores} == timed
    assert _text(raw, "HKEYS", root + "routes") == set(timed)
    assert int(raw.get(root + "bytes") or 0) == size


def test_a_key_pushed_again_after_its_item_expired_keeps_only_its_new_routes(
    mesh: ContextMesh, raw: Any
) -> None:
    mesh.push("k", "old", topics=["t1"], subscribers=["b"], ttl=0.05)
    time.sleep(0.1)  # expired in Redis, not yet pruned from the indexes
    mesh.push("k", "new", topics=["t2"])
    assert mesh.get("k") == "new"
    assert_indexes_match_items(mesh, raw)


def test_a_batch_of_keys_whose_items_expired_keeps_only_the_new_routes(
    mesh: ContextMesh, raw: Any
) -> None:
    mesh.push_many([{"key": f"k{i}", "value": i, "topics": ["old"], "ttl": 0.05}
                    for i in range(3)])
    time.sleep(0.1)
    mesh.push_many([{"key": "k0", "value": "a", "topics": ["new"], "ttl": 60},
                    {"key": "k1", "value": "b"},
                    {"key": "fresh", "value": "c", "subscribers": ["x"]}])
    assert_indexes_match_items(mesh, raw)
    assert mesh.get_all_for_agent("x") == {"k1": "b", "fresh": "c"}


def test_an_overwrite_moves_the_item_between_indexes(mesh: ContextMesh, raw: Any) -> None:
    mesh.push("k", "a" * 10, ttl=60)
    assert_indexes_match_items(mesh, raw)
    mesh.push("k", "b", topics=["t1", "t2"], subscribers=["x"])
    assert_indexes_match_items(mesh, raw)
    mesh.push("k", "c" * 30, topics=["t2", "t3"], ttl=30)
    assert_indexes_match_items(mesh, raw)
    mesh.push("k", "d")
    assert_indexes_match_items(mesh, raw)
    assert mesh.get_item("k").expires_at is None  # type: ignore[union-attr]


def test_every_pushed_item_gets_its_own_consecutive_version_and_event(
    mesh: ContextMesh, raw: Any
) -> None:
    first = mesh.push("a", 0)
    versions = mesh.push_many([{"key": f"k{i}", "value": i} for i in range(70)])
    assert versions == list(range(first + 1, first + 71))
    events = raw.xrange(mesh.operations.keys.stream)
    assert [int(f[b"ver"]) for _, f in events][-71:] == list(range(first, first + 71))
