"""Topic subscriptions and post permissions: the operations that route items.

Split from ``operations`` (items) to keep each module one job; the mesh uses
``batches.BatchOperations``, which has both.
"""

from __future__ import annotations

from dataclasses import dataclass

from syntha_redis.core import keys
from syntha_redis.core.codec import text
from syntha_redis.core.operations import MeshOperations
from syntha_redis.core.store import CommandCall, Operation
from syntha_redis.exceptions import SynthaValidationError

__all__ = ["TopicDeletion", "TopicOperations", "Unsubscribed"]

# Items (then followers) one delete_topic.lua call handles (the script holds it to
# at most this many, whatever a client asks): see its CHUNK.
DELETE_TOPIC_CHUNK = 250


@dataclass(frozen=True)
class Unsubscribed:
    removed: list[str]  # the topics the agent followed and now does not
    remaining: list[str]  # those it still follows, in subscription order


@dataclass(frozen=True)
class TopicDeletion:
    existed: bool
    items_deleted: int
    subscribers_affected: int


class TopicOperations(MeshOperations):
    """Item operations plus who follows which topic and who may post where."""

    def subscribe(self, agent_name: str, topics: list[str], replace: bool) -> Operation[list[str]]:
        agent = self.name_token(agent_name, "agent_name")
        wanted = self.name_csv(topics, "topics", self.settings.max_topics_per_agent)
        reply = yield from self._mutate("subscribe", agent, wanted,
                                        "replace" if replace else "add")
        if int(reply[0]) == 0:
            raise SynthaValidationError(
                f"agent {agent_name!r} would follow {int(reply[2])} topics; "
                f"this deployment's limit is {int(reply[3])}",
                field="topics",
                suggestions=["Unsubscribe from topics the agent no longer needs (the limit is "
                             "max_topics_per_agent: `syntha-redis limits show`)"],
            )
        return list(keys.decode_csv(reply[2] or ""))

    def unsubscribe(self, agent_name: str, topics: list[str]) -> Operation[Unsubscribed]:
        """The topics actually removed, and those the agent still follows."""
        agent = self.name_token(agent_name, "agent_name")
        wanted = self.name_csv(topics, "topics", self.settings.max_topics_per_agent)
        reply = yield from self._mutate("unsubscribe", agent, wanted)
        return Unsubscribed(list(keys.decode_csv(text(reply[2]))),
                            list(keys.decode_csv(text(reply[3]))))

    def topic_audiences(self) -> Operation[dict[str, list[str]]]:
        """``{topic: [its subscribers]}`` for every topic with one, in one call."""
        reply = yield self._script("discover")
        return {keys.decode(reply[i]): sorted(keys.decode(a) for a in reply[i + 1])
                for i in range(0, len(reply), 2)}

    def delete_topic(self, topic: str) -> Operation[TopicDeletion]:
        """Delete ``topic`` in bounded chunks (lua/delete_topic.lua says what readers
        and the snapshot see meanwhile). Each chunk is a call of its own, with its
        own operation id: a retried chunk is not applied twice, and a deletion cut
        short is finished by calling this again."""
        tok = self.name_token(topic, "topic")
        existed: bool | None = None
        deleted = affected = 0
        while True:
            reply = yield from self._mutate("delete_topic", tok, DELETE_TOPIC_CHUNK, deleted)
            if existed is None:
                existed = int(reply[1]) == 1
            deleted += int(reply[2])
            affected += int(reply[3])
            if int(reply[0]) == 1:
                return TopicDeletion(existed, deleted, affected)

    def topics_for_agent(self, agent_name: str) -> Operation[list[str]]:
        self.name_token(agent_name, "agent_name")
        # in subscription order, as Syntha lists them
        reply = yield CommandCall(("ZRANGE", self.keys.agent_topics(agent_name), 0, -1),
                                  self.keys.root)
        return [keys.decode(t) for t in reply]

    def subscribers_for_topic(self, topic: str) -> Operation[list[str]]:
        self.name_token(topic, "topic")
        return (yield from self._members(self.keys.topic_subscribers(topic)))

    def all_topics(self) -> Operation[list[str]]:
        return (yield from self._members(self.keys.all_topics))

    def set_post_permissions(self, agent_name: str, topics: list[str]) -> Operation[None]:
        agent = self.name_token(agent_name, "agent_name")
        allowed = self.name_csv(topics, "topics", self.settings.max_topics_per_agent)
        yield from self._mutate("permissions", agent, allowed)

    def get_agent_post_permissions(self, agent_name: str) -> Operation[list[str]]:
        self.name_token(agent_name, "agent_name")
        return (yield from self._members(self.keys.post_permissions(agent_name)))

    def can_post(self, agent_name: str, topic: str) -> Operation[bool]:
        self.name_token(topic, "topic")
        allowed = yield from self.get_agent_post_permissions(agent_name)
        return not allowed or topic in allowed
