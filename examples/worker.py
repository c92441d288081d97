"""An example worker process, as compose and Kubernetes run it: one agent of one
user's mesh, doing steady work and exposing its own probes and counters.

    SYNTHA_REDIS_URL=redis://127.0.0.1:6379/0 python examples/worker.py --port 8001

Every ``--interval`` seconds it pushes a heartbeat and a finding on the
``findings`` topic, then reads what its agent can see. ``/health``, ``/ready``
and ``/metrics`` (this process's operation counters; metrics are turned on
here) are served on ``--port``. It stops on SIGTERM / Ctrl-C or after
``--iterations``, and deletes nothing: the mesh outlives its workers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading

from syntha_redis import ContextMesh, Settings
from syntha_redis.ops.http import start_http_server

USER = "example-worker"
AGENT = "Worker"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001, help="probes and metrics (0 = any)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="default this machine only; a container passes 0.0.0.0")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--iterations", type=int, help="stop after this many rounds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: stopping.set())
    settings = Settings.from_env(metrics_enabled=True)
    me = f"{socket.gethostname()}-{os.getpid()}"
    rounds = 0
    with start_http_server(settings, args.port, args.host) as probes, \
            ContextMesh(user_id=USER, settings=settings) as mesh:
        print(f"worker {me}: serving {probes.where} (/health, /ready, /metrics)", flush=True)
        mesh.register_agent_topics(AGENT, ["findings"])
        while not stopping.is_set() and (args.iterations is None or rounds < args.iterations):
            rounds += 1
            mesh.push(f"heartbeat:{me}", {"round": rounds}, subscribers=[AGENT], ttl=60)
            mesh.push(f"finding:{me}", f"round {rounds} done", topics=["findings"], ttl=3600)
            mesh.get_all_for_agent(AGENT)
            stopping.wait(args.interval)
    print(f"worker {me}: stopped after {rounds} rounds", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
