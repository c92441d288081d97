"""``syntha-redis`` commands on one user's mesh, and the operations commands.

    demo                       the three-agent demo (syntha_redis.demo)
    get KEY [--agent A]        one item's value (as A sees it; system read without)
    list --agent A             the keys A can see, by topic
    stats                      get_stats() of the user
    watch --agent A            A's change feed as JSON lines, until Ctrl-C / --timeout
    health                     mesh.health(); exit status 0 only when healthy
    serve [--port 8000]        HTTP /health, /ready, /metrics (syntha_redis.http)

Each takes ``--user`` (default the settings' default user), ``--redis-url``,
``--prefix`` and ``--json``. A missing item exits 1, like an unhealthy mesh;
a SynthaError exits 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from syntha_redis.config import Settings
from syntha_redis.context import ContextMesh

__all__ = ["mesh_commands"]


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(redis_url=args.redis_url, key_prefix=args.key_prefix)


def _open(args: argparse.Namespace) -> ContextMesh:
    settings = _settings(args)
    # a short-lived command needs no background expiry sweeper
    return ContextMesh(user_id=args.user or settings.default_user, settings=settings,
                       auto_cleanup=False)


def _dump(data: Any) -> str:
    return json.dumps(data, default=str, ensure_ascii=False)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else _dump(value)


def _demo(args: argparse.Namespace) -> int:
    from syntha_redis import demo

    demo.main(_settings(args))
    return 0


def _get(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        item = mesh.get_item(args.key, args.agent)
    if item is None:
        seen = f" for agent {args.agent!r}" if args.agent else ""
        print(f"{args.key!r}: not found{seen}", file=sys.stderr)
        return 1
    print(item.model_dump_json() if args.json else _show(item.value))
    return 0


def _list(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        by_topic = mesh.get_available_keys_by_topic(args.agent)
    if args.json:
        print(_dump(by_topic))
        return 0
    if not by_topic:
        print(f"agent {args.agent!r} sees nothing", file=sys.stderr)
    for topic, keys in by_topic.items():
        print(f"{topic}: {', '.join(keys)}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        stats = mesh.get_stats()
    print(_dump(stats) if args.json else "\n".join(f"{k}: {v}" for k, v in stats.items()))
    return 0


def _watch(args: argparse.Namespace) -> int:
    """Print events until Ctrl-C, SIGTERM, --timeout, a closed stdout or an error,
    and on each of those exits the id to resume from (on stderr)."""
    resume = args.since
    stop = _Interrupts()
    try:
        with _open(args) as mesh, mesh.watch(args.agent, args.since, args.timeout) as feed:
            resume = feed.cursor
            for event in feed:
                with stop.deferred():  # printed and recorded, or neither
                    print(event.model_dump_json(exclude_none=True), flush=True)
                    # not feed.cursor: events read with this one may not be printed yet
                    resume = event.event_id
            resume = feed.cursor
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        stop.restore()
        shown = f"--since {resume}" if resume else "no --since (nothing was read)"
        # a --since that was refused is echoed as given, which may not be valid text
        shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
        print(f"stopped; resume with {shown}", file=sys.stderr, flush=True)
    return 0


class _Interrupts:
    """SIGINT and SIGTERM as KeyboardInterrupt, held back while an event is being
    printed and recorded, so that the resume id printed at exit is exact."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._holding = False
        self._held = False
        self._previous: dict[int, Any] = {}
        for sig in self.SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread: no handlers
                self._previous[sig] = signal.signal(sig, self._interrupt)

    def _interrupt(self, signum: int, frame: object) -> None:
        if self._holding:
            self._held = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self._held:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _health(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        report = mesh.health()
    if args.json:
        print(report.model_dump_json())
    else:
        for name, value in report.model_dump().items():
            if value not in (None, (), []):
                shown = "; ".join(value) if isinstance(value, tuple) else value
                print(f"{name}: {shown}")
    return 0 if report.healthy else 1


def _serve(args: argparse.Namespace) -> int:
    from syntha_redis.http import start_http_server

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: stopping.set())
    with start_http_server(_settings(args), args.port, args.host) as server:
        print(f"serving {server.url} (/health, /ready, /metrics)", flush=True)
        stopping.wait()
    return 0


def mesh_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    mesh = argparse.ArgumentParser(add_help=False, parents=[common])
    mesh.add_argument("--user", help="end user id (default $SYNTHA_DEFAULT_USER or 'default')")
    mesh.add_argument("--json", action="store_true", help="machine-readable output")

    commands.add_parser("demo", parents=[mesh], help="run the demo").set_defaults(handler=_demo)

    get = commands.add_parser("get", parents=[mesh], help="one item's value")
    get.add_argument("key")
    get.add_argument("--agent", help="read as this agent (access-checked)")
    get.set_defaults(handler=_get)

    keys = commands.add_parser("list", parents=[mesh], help="keys an agent sees, by topic")
    keys.add_argument("--agent", required=True)
    keys.set_defaults(handler=_list)

    commands.add_parser("stats", parents=[mesh], help="the user's statistics").set_defaults(
        handler=_stats)

    watch = commands.add_parser("watch", parents=[mesh], help="follow an agent's changes")
    watch.add_argument("--agent", required=True)
    watch.add_argument("--since", help="event id to resume after ('0' = all the stream holds)")
    watch.add_argument("--timeout", type=float, help="stop after this long without an event (s)")
    watch.set_defaults(handler=_watch)

    commands.add_parser("health", parents=[mesh], help="exit 0 if healthy, 1 otherwise"
                        ).set_defaults(handler=_health)

    serve = commands.add_parser("serve", parents=[mesh], help="HTTP /health, /ready, /metrics")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="0.0.0.0", help="default every interface")
    serve.set_defaults(handler=_serve)
