"""Locust load test: many simulated agents of many users sharing meshes on one Redis.

    make load
    locust -f benchmarks/locustfile.py --headless -u 20 -r 20 -t 30s --only-summary

Two User classes run side by side in the same run, half the users each:
``MeshAgent`` works through the library (pushes, access-checked gets and
visible-item reads of its own user's mesh; it follows two topics), ``RawAgent``
does the baseline's work with plain redis-py on the same server (MULTI{HSET 6
fields; PEXPIRE} for a push, HGETALL for a get, SMEMBERS + pipelined HGETALL of
the followed topic's items for a fan-out read). SYNTHA_REDIS_URL picks the server
(default: the machine's Redis). Keys live under a per-run prefix that the test
deletes when it stops.

Locust's own summary rounds percentiles to whole milliseconds; at test stop this
file prints RPS and p50/p95/p99 in microseconds from every request it timed.
"""

from __future__ import annotations

import os
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import redis
from locust import User, between, events, task

from syntha_redis import ContextMesh

URL = os.environ.get("SYNTHA_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = f"locust{uuid.uuid4().hex[:8]}"
USERS = 50
TOPICS = [f"topic{i}" for i in range(10)]
VALUE = "v" * 158  # 160 bytes once msgpack-encoded
TTL = 300
TIMES: dict[str, list[float]] = defaultdict(list)
STARTED = [time.perf_counter()]


class TimedUser(User):
    abstract = True
    wait_time = between(0, 0.001)
    kind = ""

    def _timed(self, name: str, call: Callable[[], Any]) -> None:
        start = time.perf_counter()
        error: Exception | None = None
        try:
            call()
        except Exception as e:  # reported to locust as a failure
            error = e
        elapsed = (time.perf_counter() - start) * 1000
        TIMES[f"{self.kind} {name}"].append(elapsed)
        self.environment.events.request.fire(
            request_type=self.kind, name=name, response_time=elapsed,
            response_length=0, response=None, context={}, exception=error,
        )


class MeshAgent(TimedUser):
    kind = "mesh"

    def on_start(self) -> None:
        self.mesh = ContextMesh(
            user_id=f"user{random.randrange(USERS)}", redis_url=URL, key_prefix=PREFIX,
            auto_cleanup=False,
        )
        self.agent = f"agent{random.randrange(20)}"
        self.mesh.register_agent_topics(self.agent, random.sample(TOPICS, 2))
        self.pushed = 0

    @task(4)
    def push(self) -> None:
        self.pushed += 1
        key = f"{self.agent}-{self.pushed % 200}"
        self._timed("push", lambda: self.mesh.push(key, VALUE, topics=random.sample(TOPICS, 2),
                                                   ttl=TTL))

    @task(4)
    def get(self) -> None:
        key = f"agent{random.randrange(20)}-{random.randrange(200)}"
        self._timed("get", lambda: self.mesh.get(key, self.agent))

    @task(1)
    def visible(self) -> None:
        self._timed("get_all_for_agent", lambda: self.mesh.get_all_for_agent(self.agent))


class RawAgent(TimedUser):
    kind = "raw"

    def on_start(self) -> None:
        self.client = redis.Redis.from_url(URL)
        self.root = f"{PREFIX}raw:{random.randrange(USERS)}:"
        self.topic = random.choice(TOPICS)
        self.pushed = 0

    def _push(self, key: str, topic: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.root + key, mapping={"value": VALUE, "version": self.pushed,
                                            "author": "agent", "created": 1, "expires": 2,
                                            "topics": topic})
        pipe.pexpire(self.root + key, TTL * 1000)
        pipe.sadd(f"{self.root}topic:{topic}", key)  # so the fan-out read has an index
        pipe.execute()

    @task(4)
    def push(self) -> None:
        self.pushed += 1
        key = f"k{random.randrange(20)}-{self.pushed % 200}"
        self._timed("push", lambda: self._push(key, random.choice(TOPICS)))

    @task(4)
    def get(self) -> None:
        key = f"k{random.randrange(20)}-{random.randrange(200)}"
        self._timed("get", lambda: self.client.hgetall(self.root + key))

    def _visible(self) -> None:
        members = self.client.smembers(f"{self.root}topic:{self.topic}")
        pipe = self.client.pipeline(transaction=False)
        for key in members:
            pipe.hgetall(self.root + key.decode())
        pipe.execute()

    @task(1)
    def visible(self) -> None:
        self._timed("get_all_for_agent", self._visible)


@events.test_start.add_listener
def start_clock(**_: Any) -> None:
    STARTED[0] = time.perf_counter()


@events.test_stop.add_listener
def report_and_clean(**_: Any) -> None:
    wall = time.perf_counter() - STARTED[0]
    print(f"\n{'request':<28} {'RPS':>8} {'p50 µs':>8} {'p95 µs':>8} {'p99 µs':>8}")
    for name in sorted(TIMES):
        times = sorted(TIMES[name])
        cuts = statistics.quantiles(times, n=100) if len(times) > 1 else times * 99
        print(f"{name:<28} {len(times) / wall:>8,.0f} {cuts[49] * 1000:>8,.0f} "
              f"{cuts[94] * 1000:>8,.0f} {cuts[98] * 1000:>8,.0f}")
    client = redis.Redis.from_url(URL)
    for name in client.scan_iter(match=f"{PREFIX}*", count=1000):
        client.delete(name)
