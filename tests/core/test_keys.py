"""The keyspace: lossless encoding, one Cluster slot per user, no escape from a prefix."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from syntha_redis import ContextMesh, SynthaValidationError
from syntha_redis.core import keys
from syntha_redis.core.scripts import lua_dir

HOSTILE = [
    "}", "{", "{u:other}", "a:item:b", "*", "?", "[a-z]", "\\", "%", "%7D", "a,b", "a|b",
    "a b", "ü名前", "x" * 200, "../../etc", "syntha:{u:victim}:item:secret",
]


@given(st.text(min_size=1))
def test_encoding_is_lossless(text: str) -> None:
    assert keys.decode(keys.encode(text)) == text


@given(st.text(min_size=1))
def test_encoded_tokens_hold_no_special_characters(text: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9._%-]+", keys.encode(text))


@pytest.mark.parametrize("user", HOSTILE)
def test_all_keys_of_a_user_hash_to_one_cluster_slot(user: str) -> None:
    names = keys.UserKeys("syntha", user)
    slot = key_slot(names.root.encode())
    for name in [
        names.item("}{*"), names.stream, names.wake_channel, names.root + keys.SWEEP_LEASE,
        names.agent_topics("{evil}"), names.topic_subscribers("a:b"), names.items,
        names.post_permissions("*"), names.all_topics,
    ]:
        assert key_slot(name.encode()) == slot


def test_distinct_users_get_distinct_roots() -> None:
    roots = {keys.UserKeys("syntha", u).root for u in HOSTILE}
    assert len(roots) == len(HOSTILE)


def test_lua_derives_names_with_the_suffixes_of_keys_py() -> None:
    prelude = (lua_dir() / "_prelude.lua").read_text()
    lua_suffixes = set(re.findall(r"ROOT \.\. '([a-z:-]+)'", prelude))
    python_suffixes = {
        keys.ITEM, keys.ITEMS, keys.EXPIRY, keys.ROUTES, keys.GLOBAL, keys.DIRECT,
        keys.TOPIC_ITEMS, keys.TOPIC_SUBSCRIBERS, keys.AGENT_TOPICS, keys.TOPICS,
        keys.SUBSCRIBED_AGENTS, keys.POST_PERMISSIONS, keys.PERMISSION_AGENTS, keys.VERSION,
        keys.BYTES, keys.STREAM, keys.WAKE_CHANNEL, keys.OPERATION, keys.SWEEP_LEASE,
        keys.LIMITS, keys.CAPTURED, keys.GONE, keys.SNAPSHOT_DB,
    }
    assert lua_suffixes == python_suffixes


def test_lua_scripts_build_no_key_names_of_their_own() -> None:
    for path in lua_dir().glob("*.lua"):
        if path.name == "_prelude.lua":
            continue
        source = path.read_text()
        assert "ROOT .." not in source and "KEYS[2]" not in source, path.name


# The empty key is usable, as in Syntha (tests/compat/test_dropin.py)
@pytest.mark.parametrize("bad", ["   ", "a\x00b", "line\nbreak", 5, None, "k" * 10_000])
def test_unusable_keys_are_refused(mesh: ContextMesh, bad: Any) -> None:
    with pytest.raises(SynthaValidationError):
        mesh.push(bad, "v")
    assert mesh.size() == 0


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_work_as_plain_names(mesh: ContextMesh, name: str) -> None:
    mesh.register_agent_topics(name, [name])
    mesh.push(name, "v", topics=[name])
    assert mesh.get(name, name) == "v"
    assert mesh.get_topics_for_agent(name) == [name]
    assert mesh.get_keys_for_agent(name) == [name]


@pytest.mark.parametrize("user", HOSTILE)
def test_hostile_user_ids_stay_inside_their_prefix(mesh_factory: Any, raw: Any, user: str) -> None:
    mesh = mesh_factory(user_id=user)
    mesh.push("k", "v", topics=["t"])
    root = keys.UserKeys(mesh.settings.key_prefix, user).root
    prefix = mesh.settings.key_prefix + ":"
    written = [n.decode() for n in raw.scan_iter(match=prefix + "*")]
    # the registry's announcements, the deployment's limits
    deployment = {prefix + "{registry}:joins", prefix + "{limits}"}
    assert written and all(n.startswith(root) or n in deployment for n in written)


def test_outcome_streams_stay_under_the_prefix_and_apart() -> None:
    names = {keys.outcomes_stream("syntha", ns) for ns in HOSTILE}
    assert len(names) == len(HOSTILE)
    assert all(re.fullmatch(r"syntha:outcomes:[A-Za-z0-9._%-]+", n) for n in names)
