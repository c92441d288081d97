"""Locust load test: many simulated agents of many users sharing meshes on one Redis.

    locust -f benchmarks/locustfile.py --headless -u 20 -r 20 -t 20s --only-summary

Each simulated agent belongs to one of USERS end users, follows two topics, and
mixes pushes, access-checked gets and visible-item reads. SYNTHA_REDIS_URL picks
the server (default: the machine's Redis). Keys live under a per-run prefix that
the test deletes when it stops.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis
from locust import User, between, events, task

from syntha_redis import ContextMesh

URL = os.environ.get("SYNTHA_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"locust{uuid.uuid4().hex[:8]}"
USERS = 50
TOPICS = [f"topic{i}" for i in range(10)]
VALUE = {"customer": "acme", "amount": 120_000, "notes": "x" * 150}


class MeshAgent(User):
    wait_time = between(0, 0.001)

    def on_start(self) -> None:
        self.mesh = ContextMesh(
            user_id=f"user{random.randrange(USERS)}", redis_url=URL, key_prefix=PREFIX,
            auto_cleanup=False,
        )
        self.agent = f"agent{random.randrange(20)}"
        self.mesh.register_agent_topics(self.agent, random.sample(TOPICS, 2))
        self.pushed = 0

    def _timed(self, name: str, call: Callable[[], Any]) -> None:
        start = time.perf_counter()
        error: Exception | None = None
        try:
            call()
        except Exception as e:  # reported to locust as a failure
            error = e
        self.environment.events.request.fire(
            request_type="MESH", name=name, response_time=(time.perf_counter() - start) * 1000,
            response_length=0, response=None, context={}, exception=error,
        )

    @task(4)
    def push(self) -> None:
        self.pushed += 1
        key = f"{self.agent}-{self.pushed % 200}"
        self._timed("push", lambda: self.mesh.push(key, VALUE, topics=[random.choice(TOPICS)],
                                                   ttl=300))

    @task(4)
    def get(self) -> None:
        key = f"agent{random.randrange(20)}-{random.randrange(200)}"
        self._timed("get", lambda: self.mesh.get(key, self.agent))

    @task(1)
    def visible(self) -> None:
        self._timed("get_all_for_agent", lambda: self.mesh.get_all_for_agent(self.agent))


@events.test_stop.add_listener
def delete_run_keys(**_: Any) -> None:
    client = redis.Redis.from_url(URL)
    for name in client.scan_iter(match=f"{PREFIX}:*", count=1000):
        client.delete(name)
