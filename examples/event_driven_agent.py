"""Event-driven agents: they react to shared context as it changes, no polling.

Syntha's event-driven example polls the mesh every second. Here each agent
blocks on ``mesh.watch(agent)`` and wakes when something it may see changes:

* the *sales* agent (its own process) pushes deals to the ``sales`` topic;
* the *analytics* agent (another process) watches ``sales``, fetches each new
  deal and publishes a running summary to the ``reports`` topic;
* the *manager* (this process) watches ``reports`` and prints each summary.

Run it against a Redis that both processes share::

    SYNTHA_REDIS_URL=redis://127.0.0.1:6379/0 python examples/event_driven_agent.py
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from typing import Any

from syntha_redis import ContextMesh

DEALS = [("acme", 1200), ("globex", 800), ("initech", 2500)]
USER = "example-event-driven"


def open_mesh() -> ContextMesh:
    return ContextMesh(user_id=USER)


def sales_agent(ready: Any) -> None:
    mesh = open_mesh()
    ready.wait(timeout=30)  # the analytics agent is watching: no deal goes unseen
    for customer, amount in DEALS:
        mesh.push(f"deal:{customer}", {"customer": customer, "amount": amount},
                  topics=["sales"], agent_name="sales")


def analytics_agent(ready: Any) -> None:
    mesh = open_mesh()
    mesh.register_agent_topics("analytics", ["sales"])
    start = mesh.watch("analytics", timeout=0)
    list(start)  # a cursor at the newest event: from here on, nothing is missed
    ready.set()
    total, seen = 0, 0
    with mesh.watch("analytics", since=start.cursor, timeout=30) as events:
        for event in events:
            if event.type != "pushed" or not (event.key or "").startswith("deal:"):
                continue
            deal = mesh.get(event.key or "", agent_name="analytics")
            total, seen = total + deal["amount"], seen + 1
            mesh.push(f"report:{seen}", {"deals": seen, "total": total},
                      topics=["reports"], agent_name="analytics")
            if seen == len(DEALS):
                return


def main() -> int:
    if not os.environ.get("SYNTHA_REDIS_URL"):
        print("Set SYNTHA_REDIS_URL: the agents run in separate processes and share Redis.")
        return 2
    manager = open_mesh()
    manager.clear()
    manager.register_agent_topics("manager", ["reports"])
    start = manager.watch("manager", timeout=0)
    list(start)
    spawn = mp.get_context("spawn")
    analytics_watching = spawn.Event()
    processes = [
        spawn.Process(target=analytics_agent, args=(analytics_watching,)),
        spawn.Process(target=sales_agent, args=(analytics_watching,)),
    ]
    for p in processes:
        p.start()
    with manager.watch("manager", since=start.cursor, timeout=30) as watch:
        for event in watch:
            if event.type == "pushed" and (event.key or "").startswith("report:"):
                report = manager.get(event.key or "", agent_name="manager")
                print(f"manager: {report['deals']} deals, total {report['total']}")
                if report["deals"] == len(DEALS):
                    break
    for p in processes:
        p.join(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
