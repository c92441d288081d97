"""A model-based test: random sequences of mesh operations against a pure-Python model.

The model is the specification in a few lines: an item is visible to an agent if
it is global, addressed to the agent, or on a topic the agent follows *now*.
After every step the real mesh (fakeredis, real Redis, Cluster) must agree with
it, and another user's mesh must stay untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from syntha_redis import ContextMesh, SynthaConflictError, SynthaPermissionError

KEYS = st.sampled_from(["a", "b", "c:1", "{d}", "e f"])
AGENTS = st.sampled_from(["ann", "bob", "c*l"])
TOPICS = st.lists(st.sampled_from(["sales", "ops", "h[r]"]), max_size=2, unique=True)
VALUES = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.text(max_size=5), st.lists(st.booleans(), max_size=2)
)


@dataclass
class Item:
    value: Any
    topics: list[str]
    subscribers: list[str]
    version: int | None  # None: changed by the mesh (delete_topic) to a version we learn next


@dataclass
class MeshModel:
    items: dict[str, Item] = field(default_factory=dict)
    follows: dict[str, set[str]] = field(default_factory=dict)
    may_post: dict[str, set[str]] = field(default_factory=dict)

    def visible(self, agent: str) -> dict[str, Any]:
        follows = self.follows.get(agent, set())
        return {
            key: item.value
            for key, item in self.items.items()
            if (not item.topics and not item.subscribers)
            or agent in item.subscribers
            or follows & set(item.topics)
        }

    def delete_topic(self, topic: str) -> None:
        for key, item in list(self.items.items()):
            if topic in item.topics:
                if item.topics == [topic]:
                    del self.items[key]
                else:
                    item.topics.remove(topic)
                    item.version = None
        for topics in self.follows.values():
            topics.discard(topic)


class MeshMachine(RuleBasedStateMachine):
    """Bound to a backend by the test, through ``make_mesh``."""

    make_mesh: Callable[..., ContextMesh]

    def __init__(self) -> None:
        super().__init__()
        make_mesh = type(self).make_mesh
        self.mesh = make_mesh(user_id="model")
        self.mesh.clear()
        self.bystander = make_mesh(user_id="bystander")
        self.bystander.clear()
        self.bystander.push("untouched", "yes", topics=["sales"])
        self.model = MeshModel()

    @rule(key=KEYS, value=VALUES, topics=TOPICS, subs=st.lists(AGENTS, max_size=2, unique=True))
    def push(self, key: str, value: Any, topics: list[str], subs: list[str]) -> None:
        version = self.mesh.push(key, value, subscribers=subs, topics=topics)
        self.model.items[key] = Item(value, topics, subs, version)

    @rule(key=KEYS, value=VALUES, agent=AGENTS, topics=TOPICS)
    def push_as_agent(self, key: str, value: Any, agent: str, topics: list[str]) -> None:
        allowed = self.model.may_post.get(agent, set())
        if allowed and not set(topics) <= allowed:
            with pytest.raises(SynthaPermissionError):
                self.mesh.push(key, value, topics=topics, agent_name=agent)
            return
        version = self.mesh.push(key, value, topics=topics, agent_name=agent)
        self.model.items[key] = Item(value, topics, [], version)

    @rule(key=KEYS, value=VALUES, stale=st.booleans())
    def compare_and_set(self, key: str, value: Any, stale: bool) -> None:
        current = self.model.items.get(key)
        known = current.version if current else 0
        if known is None:
            return
        expected = known + (1 if stale else 0)
        if stale:
            with pytest.raises(SynthaConflictError):
                self.mesh.push(key, value, expected_version=expected)
            return
        version = self.mesh.push(key, value, expected_version=expected)
        self.model.items[key] = Item(value, [], [], version)

    @rule(key=KEYS)
    def remove(self, key: str) -> None:
        assert self.mesh.remove(key) == (self.model.items.pop(key, None) is not None)

    @rule(agent=AGENTS, topics=TOPICS)
    def subscribe(self, agent: str, topics: list[str]) -> None:
        self.mesh.register_agent_topics(agent, topics)
        self.model.follows[agent] = set(topics)

    @rule(agent=AGENTS, topics=TOPICS)
    def unsubscribe(self, agent: str, topics: list[str]) -> None:
        self.mesh.unsubscribe_from_topics(agent, topics)
        self.model.follows.get(agent, set()).difference_update(topics)

    @rule(topic=st.sampled_from(["sales", "ops", "h[r]"]))
    def delete_topic(self, topic: str) -> None:
        self.mesh.delete_topic(topic)
        self.model.delete_topic(topic)

    @rule(agent=AGENTS, topics=TOPICS)
    def permit(self, agent: str, topics: list[str]) -> None:
        self.mesh.set_agent_post_permissions(agent, topics)
        self.model.may_post[agent] = set(topics)

    @invariant()
    def agents_see_what_the_model_says(self) -> None:
        for agent in ("ann", "bob", "c*l"):
            assert self.mesh.get_all_for_agent(agent) == self.model.visible(agent)

    @invariant()
    def system_reads_and_size_agree(self) -> None:
        assert self.mesh.size() == len(self.model.items)
        for key, item in self.model.items.items():
            stored = self.mesh.get_item(key)
            assert stored is not None
            if item.version is None:
                item.version = stored.version
            assert (stored.value, stored.version) == (item.value, item.version)
            assert (stored.topics, stored.subscribers) == (item.topics, item.subscribers)

    @invariant()
    def another_user_is_untouched(self) -> None:
        assert self.bystander.get_all_for_agent("ann") == {}
        assert self.bystander.size() == 1




def test_mesh_behaves_like_the_model(
    backend: str, mesh_factory: Callable[..., ContextMesh]
) -> None:
    examples = {"fakeredis": 40, "redis": 25, "cluster": 10}[backend]
    run_state_machine_as_test(
        type("BoundMeshMachine", (MeshMachine,), {"make_mesh": staticmethod(mesh_factory)}),
        settings=settings(
            max_examples=examples, stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
