"""Redis servers for tests: the machine's server, and private ones on free ports."""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import NoReturn

import pytest
import redis

MACHINE_REDIS_URL = os.environ.get("SYNTHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def missing_server(what: str) -> NoReturn:
    """Fail (never skip) the test: the suite runs against real servers, and a run
    that silently skipped them would prove nothing about them."""
    pytest.fail(
        f"{what}. Start it as .ci/run does (redis-server --daemonize yes ...; "
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)",
        pytrace=False,
    )


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies, so a killed or
    interrupted test run never leaves a redis-server behind (Linux prctl)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_range() -> tuple[int, int]:
    """This process's share of 20000-29999: each pytest-xdist worker (gw0, gw1, ...)
    draws from its own quarter, so two workers never pick the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    share = int(worker) % 4 if worker.isdigit() else 0
    return 20000 + share * 2500, 20000 + share * 2500 + 2499


def free_port() -> int:
    """A free loopback port whose cluster bus port (port + 10000) is free too."""
    low, high = _port_range()
    while True:
        port = random.randint(low, high)
        if _port_is_free(port) and _port_is_free(port + 10000):
            return port


def redis_reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@dataclass
class RedisProcess:
    """A private redis-server on a free loopback port, stopped by pid."""

    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="syntha-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.workdir, *self.extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not redis_reachable(self.url):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)
        # the server that answers is this one, not another process's on the same port
        pid = redis.Redis.from_url(self.url).info("server")["process_id"]
        if pid != self.proc.pid:
            self.stop()
            raise RuntimeError(f"port {self.port} is served by another redis-server ({pid})")
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class RedisClusterProcesses:
    """A loopback Redis Cluster of private servers (by default 3 primaries, no replicas)."""

    nodes: list[RedisProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, size: int = 3, replicas: int = 0,
              node_timeout_ms: int = 15000) -> RedisClusterProcesses:
        try:
            self._start(size, replicas, node_timeout_ms)
        except BaseException:
            self.stop()  # never leave half a cluster running
            raise
        return self

    def _start(self, size: int, replicas: int, node_timeout_ms: int) -> None:
        for _ in range(size):
            node = RedisProcess(extra=("--cluster-enabled", "yes",
                                       "--cluster-config-file", "nodes.conf",
                                       "--cluster-node-timeout", str(node_timeout_ms)))
            self.nodes.append(node.start())
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *[f"127.0.0.1:{n.port}" for n in self.nodes],
             "--cluster-replicas", str(replicas), "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.wait_until_ok()
        if replicas:  # every replica has synced with its primary
            deadline = time.monotonic() + 30
            for n in self.nodes:
                while redis.Redis(port=n.port).info("replication").get(
                        "master_link_status", "up") != "up":
                    if time.monotonic() > deadline:
                        raise RuntimeError("loopback replicas did not sync")
                    time.sleep(0.1)

    def wait_until_ok(self, timeout: float = 20) -> float:
        """Seconds until every live node reports cluster_state:ok."""
        started = time.monotonic()
        for n in self.nodes:
            if n.proc is None or n.proc.poll() is not None:
                continue
            client = redis.Redis(port=n.port)
            while client.cluster("INFO").get("cluster_state") != "ok":
                if time.monotonic() > started + timeout:
                    raise RuntimeError("loopback cluster did not become ready")
                time.sleep(0.05)
        return time.monotonic() - started

    def primary_of(self, key: str) -> RedisProcess:
        """The node serving ``key``'s slot now."""
        slot = redis.Redis(port=self._live().port).cluster("KEYSLOT", key)
        for start, end, primary, *_ in redis.Redis(port=self._live().port).cluster("SLOTS"):
            if start <= slot <= end:
                return next(n for n in self.nodes if n.port == int(primary[1]))
        raise LookupError(key)

    def _live(self) -> RedisProcess:
        return next(n for n in self.nodes if n.proc is not None and n.proc.poll() is None)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
