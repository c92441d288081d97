"""``make demo``: three agents of one user share context; another user sees none of it.

Runs on the embedded default (in-process fakeredis) unless SYNTHA_REDIS_URL is set.
"""

from __future__ import annotations

import logging
import uuid

from syntha_redis import ContextMesh, Settings, SynthaPermissionError


def say(who: str, text: str) -> None:
    print(f"  {who:<15} {text}")


def main(settings: Settings | None = None) -> None:
    """Run the demo on ``settings``' Redis (default: from the environment)."""
    logging.basicConfig(level=logging.WARNING, format="  (%(name)s) %(message)s")
    run = uuid.uuid4().hex[:6]
    acme = ContextMesh(user_id=f"acme-{run}", settings=settings)
    globex = ContextMesh(user_id=f"globex-{run}", settings=settings)
    print(f"Mesh for end user {acme.user_id!r} on {acme!r}\n")

    print("1. Agents choose what they follow")
    acme.register_agent_topics("AnalyticsAgent", ["sales", "deals"])
    acme.register_agent_topics("SupportAgent", ["customers"])
    acme.set_agent_post_permissions("SalesAgent", ["sales", "deals", "customers"])
    say("AnalyticsAgent", "follows sales, deals")
    say("SupportAgent", "follows customers")

    print("\n2. SalesAgent shares what it learns")
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
        say("SalesAgent", f"refused: {e.message}")

    print("\n3. Each agent reads what is routed to it")
    for agent in ("AnalyticsAgent", "SupportAgent"):
        say(agent, f"sees {acme.get_all_for_agent(agent)}")

    print("\n4. A late subscriber sees earlier items; unsubscribing revokes them")
    acme.register_agent_topics("SupportAgent", ["customers", "deals"])
    say("SupportAgent", f"after following 'deals': {acme.get_keys_for_agent('SupportAgent')}")
    acme.unsubscribe_from_topics("SupportAgent", ["deals"])
    say("SupportAgent", f"after leaving 'deals':   {acme.get_keys_for_agent('SupportAgent')}")

    print(f"\n5. Another end user ({globex.user_id!r}) shares nothing with {acme.user_id!r}")
    globex.register_agent_topics("AnalyticsAgent", ["sales", "deals"])
    say("AnalyticsAgent", f"of globex sees {globex.get_all_for_agent('AnalyticsAgent')}")
    say("system", f"globex get('deal_acme_q3') -> {globex.get('deal_acme_q3')}")

    print("\n6. Stats")
    say("acme", str(acme.get_stats()))
    say("globex", str(globex.get_stats()))
    acme.clear()
    globex.clear()
    acme.close()
    globex.close()


if __name__ == "__main__":
    main()
