"""``make demo``: three agents of one user share context; another user sees none of it.

Runs on the embedded default (in-process fakeredis) unless SYNTHA_REDIS_URL is set.
``syntha-redis demo --user NAME`` runs it for end user NAME (the other user is
``NAME-other``), ``--json`` prints what happened as one JSON object instead of
the story. Either way the demo deletes every key it wrote when it ends, and it
refuses a user that already has a mesh rather than touch it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from syntha_redis import (
    ContextMesh,
    Settings,
    SynthaConfigurationError,
    SynthaPermissionError,
)
from syntha_redis.core import keys, registry
from syntha_redis.core.store import Store

__all__ = ["main", "run"]


class Story:
    """Prints the demo as it goes, unless ``quiet``; keeps the facts for ``--json``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.facts: dict[str, Any] = {}

    def heading(self, text: str) -> None:
        if not self.quiet:
            print(text)

    def say(self, who: str, text: str) -> None:
        if not self.quiet:
            print(f"  {who:<15} {text}")


def _fresh(settings: Settings, user_id: str) -> ContextMesh:
    """A mesh of ``user_id``, which must have none yet (the demo deletes it at the end)."""
    root = keys.UserKeys(settings.key_prefix, user_id).root
    if Store(settings).client.exists(root + keys.VERSION):
        raise SynthaConfigurationError(
            f"user {user_id!r} already has a mesh; the demo deletes its users when it ends",
            config_key="user",
            suggestions=["Run the demo with a --user that has no data (default: a fresh one)"],
        )
    return ContextMesh(user_id=user_id, settings=settings, auto_cleanup=False)


def delete_user(settings: Settings, user_id: str) -> int:
    """Delete every key of ``user_id`` and its registry entry; returns the keys deleted.

    The root is built by ``keys`` (percent-encoded, so free of glob characters),
    which makes it safe as a SCAN pattern; a demo can afford a keyspace scan.
    """
    client: Any = Store(settings).client
    root = keys.UserKeys(settings.key_prefix, user_id).root
    names = list(client.scan_iter(match=root + "*", count=1000))
    for name in names:
        client.delete(name)  # one by one: on a Cluster they may sit in other slots
    store = Store(settings)
    registry.fold(store)  # an unfolded join would add it back
    store.execute(registry.forget(settings.key_prefix, user_id))
    return len(names)


def run(settings: Settings, user_id: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Run the demo for ``user_id`` (default: a fresh ``acme-…``); returns its facts."""
    story = Story(quiet)
    tag = uuid.uuid4().hex[:6]
    first = user_id or f"acme-{tag}"
    second = f"{user_id}-other" if user_id else f"globex-{tag}"
    acme = _fresh(settings, first)
    try:
        globex = _fresh(settings, second)
    except SynthaConfigurationError:
        acme.close()
        raise
    facts = story.facts
    facts["users"] = [first, second]
    facts["redis"] = repr(acme)
    try:
        _tell(story, acme, globex)
    finally:
        acme.close()
        globex.close()
        facts["keys_deleted"] = delete_user(settings, first) + delete_user(settings, second)
    story.heading(f"\n7. Cleaned up: {facts['keys_deleted']} keys of both users deleted")
    return facts


def _tell(story: Story, acme: ContextMesh, globex: ContextMesh) -> None:
    facts, say = story.facts, story.say
    story.heading(f"Mesh for end user {acme.user_id!r} on {acme!r}\n")

    story.heading("1. Agents choose what they follow")
    acme.register_agent_topics("AnalyticsAgent", ["sales", "deals"])
    acme.register_agent_topics("SupportAgent", ["customers"])
    acme.set_agent_post_permissions("SalesAgent", ["sales", "deals", "customers"])
    say("AnalyticsAgent", "follows sales, deals")
    say("SupportAgent", "follows customers")

    story.heading("\n2. SalesAgent shares what it learns")
    version = acme.push(
        "deal_acme_q3", {"amount": 120_000, "stage": "closed"}, topics=["deals"],
        agent_name="SalesAgent",
    )
    say("SalesAgent", f"pushed deal_acme_q3 to 'deals' (version {version})")
    acme.push("customer_tier", "gold", topics=["customers"], ttl=3600, agent_name="SalesAgent")
    say("SalesAgent", "pushed customer_tier to 'customers' (expires in 1 h)")
    acme.push("handoff_note", "call back Tuesday", subscribers=["SupportAgent"])
    say("SalesAgent", "sent handoff_note to SupportAgent only")
    try:
        acme.push("salary_bands", "secret", topics=["hr"], agent_name="SalesAgent")
    except SynthaPermissionError as e:
        facts["refused"] = e.message
        say("SalesAgent", f"refused: {e.message}")

    story.heading("\n3. Each agent reads what is routed to it")
    facts["sees"] = {}
    for agent in ("AnalyticsAgent", "SupportAgent"):
        facts["sees"][agent] = acme.get_all_for_agent(agent)
        say(agent, f"sees {facts['sees'][agent]}")

    story.heading("\n4. A late subscriber sees earlier items; unsubscribing revokes them")
    acme.register_agent_topics("SupportAgent", ["customers", "deals"])
    facts["late_subscriber_sees"] = acme.get_keys_for_agent("SupportAgent")
    say("SupportAgent", f"after following 'deals': {facts['late_subscriber_sees']}")
    acme.unsubscribe_from_topics("SupportAgent", ["deals"])
    facts["after_unsubscribing"] = acme.get_keys_for_agent("SupportAgent")
    say("SupportAgent", f"after leaving 'deals':   {facts['after_unsubscribing']}")

    story.heading(f"\n5. Another end user ({globex.user_id!r}) shares nothing with "
                  f"{acme.user_id!r}")
    globex.register_agent_topics("AnalyticsAgent", ["sales", "deals"])
    facts["other_user_sees"] = globex.get_all_for_agent("AnalyticsAgent")
    say("AnalyticsAgent", f"of globex sees {facts['other_user_sees']}")
    say("system", f"globex get('deal_acme_q3') -> {globex.get('deal_acme_q3')}")

    story.heading("\n6. Stats")
    facts["stats"] = {acme.user_id: acme.get_stats(), globex.user_id: globex.get_stats()}
    for user, stats in facts["stats"].items():
        say(user, str(stats))


def main(settings: Settings | None = None, user_id: str | None = None,
         quiet: bool = False) -> dict[str, Any]:
    """Run the demo on ``settings``' Redis (default: from the environment)."""
    logging.basicConfig(level=logging.WARNING, format="  (%(name)s) %(message)s")
    return run(settings or Settings.from_env(), user_id, quiet)


if __name__ == "__main__":
    main()
