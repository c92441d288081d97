"""The processes of a fleet, for the durability tests: writers, readers, a snapshotter.

Each runs in its own OS process (multiprocessing spawn) and writes what it saw
to a file line by line, flushed, so the test can count every acknowledged
write even of a process it has to kill.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from syntha_redis import ContextMesh, SynthaError

T = TypeVar("T")

# Short timeouts: a dead Redis must turn into a retry within the test's time.
FAST = {"socket_timeout": 1.0, "connect_timeout": 0.5, "retries": 0, "auto_cleanup": False,
        "pool_timeout": 2.0}


# The reader samples: a read every 2 ms sees every outage and every lost key the
# test makes, without a busy loop that starves the writer and the snapshotter.
READ_PAUSE = 0.002
ACKS_EVERY = 20


def quiet() -> None:
    """In a fleet process: it retries by design, its "Redis is away" warnings are
    expected (never call it in the test process: other tests read those logs)."""
    logging.getLogger("syntha_redis").setLevel(logging.ERROR)


def open_mesh(url: str, prefix: str, dsn: str, durability: str, user: str = "u") -> ContextMesh:
    return ContextMesh(user_id=user, redis_url=url, key_prefix=prefix, db_backend="postgresql",
                       connection_string=dsn, durability=durability, **FAST)


def write(url: str, prefix: str, dsn: str, durability: str, numbers: Iterable[int],
          acks: str, pace: float = 0.0) -> None:
    """Push k<n> = n for each number, retrying each until it is acknowledged; append
    "key version" to ``acks`` after each acknowledgement."""
    quiet()
    mesh = open_mesh(url, prefix, dsn, durability)
    with open(acks, "a") as out:
        for n in numbers:
            while True:
                try:
                    version = mesh.push(f"k{n}", n, topics=["work"])
                    break
                except SynthaError:
                    time.sleep(0.05)
            out.write(f"k{n} {version}\n")
            out.flush()
            if pace:
                time.sleep(pace)
    mesh.close()


def write_users(url: str, prefix: str, dsn: str, durability: str, users: list[str],
                writer: int, count: int, log: str, pace: float = 0.0) -> None:
    """Push w<writer>-<n> to users[n % len(users)], retrying until acknowledged; log
    "ack <user> <key> <version> <time>" and "err <user> <time>" lines to ``log``."""
    quiet()
    meshes = {u: open_mesh(url, prefix, dsn, durability, user=u) for u in users}
    with open(log, "a") as out:
        for n in range(count):
            user, key = users[n % len(users)], f"w{writer}-{n}"
            while True:
                try:
                    version = meshes[user].push(key, n)
                    break
                except SynthaError:
                    out.write(f"err {user} {time.time()}\n")
                    time.sleep(0.02)
            out.write(f"ack {user} {key} {version} {time.time()}\n")
            out.flush()
            if pace:
                time.sleep(pace)
    for mesh in meshes.values():
        mesh.close()


def read(url: str, prefix: str, dsn: str, durability: str, acks: str, report: str,
         stop: str) -> None:
    """Follow the writer's topic, then read acknowledged keys at random until the file
    ``stop`` exists, about one read per READ_PAUSE (the list of acknowledged keys is
    read again every ACKS_EVERY reads). Each read is
    ok, an error (Redis away) or a miss (an acknowledged key read as absent); one
    "ok errors misses" line goes to ``report`` at the end, then the missed keys."""
    quiet()
    # a loaded machine may start the reader after the crash began: retry its set-up
    mesh = until_it_works(lambda: open_mesh(url, prefix, dsn, durability))
    # a write too: it must survive the crash
    until_it_works(lambda: mesh.register_agent_topics("reader", ["work"]))
    ok = errors = 0
    missed: list[str] = []
    known: list[str] = []
    reads = 0
    while not Path(stop).exists():
        if reads % ACKS_EVERY == 0:
            known = list(acked_keys(acks))
        reads += 1
        if not known:
            time.sleep(0.01)
            continue
        time.sleep(READ_PAUSE)
        key = random.choice(known)
        try:
            value = mesh.get(key, agent_name="reader")
        except SynthaError:
            errors += 1
            time.sleep(0.02)
            continue
        if value is None:
            missed.append(key)
        else:
            ok += 1
    Path(report).write_text(f"{ok} {errors} {len(missed)}\n" + "\n".join(missed))
    mesh.close()


def until_it_works(call: Callable[[], T]) -> T:
    """``call()``, again every 50 ms while Redis (or the snapshot) is away."""
    while True:
        try:
            return call()
        except SynthaError:
            time.sleep(0.05)


def acked_keys(acks: str) -> dict[str, int]:
    """key -> version of every complete line of an acknowledgement file."""
    try:
        text = Path(acks).read_text()
    except FileNotFoundError:
        return {}
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            found[parts[0]] = int(parts[1])
    return found


def reader_report(path: str) -> dict[str, Any]:
    head, *missed = Path(path).read_text().splitlines()
    ok, errors, misses = (int(x) for x in head.split())
    return {"ok": ok, "errors": errors, "misses": misses, "missed": missed}
