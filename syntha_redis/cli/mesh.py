"""``syntha-redis`` commands on one user's mesh, and the operations commands.

    demo                       the three-agent demo (syntha_redis.demo), keys deleted after
    get KEY [--agent A]        one item's value (as A sees it; system read without)
    push KEY VALUE [--topic T] [--subscriber A] [--ttl S] [--agent A]
                               store an item (VALUE as JSON if it parses, else text)
    list --agent A             the keys A can see, by topic
    stats                      get_stats() of the user
    watch --agent A            A's change feed as JSON lines, until Ctrl-C / --timeout
    health                     the server's health; exit status 0 only when healthy
    serve [--port 8000] [--host H]
                               HTTP /health, /ready, /metrics with the mesh-wide
                               gauges (syntha_redis.ops.http, syntha_redis.ops.fleet_metrics)

Each takes ``--redis-url`` and ``--prefix``; all but ``serve`` take ``--user``
(default the settings' default user) and ``--json``. A missing item exits 1,
like an unhealthy mesh; a SynthaError exits 2 (``cli.main``). So does
``health`` without a Redis URL (it can then only look at its own embedded
store, which says nothing about any server), and ``push`` without one unless
``--embedded`` asks for the throwaway store.
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

from syntha_redis.cli.common import (
    EMBEDDED_NOTE,
    add_embedded,
    add_host,
    server_settings,
    settings,
)
from syntha_redis.context import ContextMesh
from syntha_redis.core import keys
from syntha_redis.exceptions import SynthaValidationError

__all__ = ["mesh_commands"]


def _open(args: argparse.Namespace, changes: str | None = None) -> ContextMesh:
    """The mesh of ``--user``; for a command that ``changes`` something, only on a
    server or with ``--embedded`` (``cli.common.server_settings``)."""
    found = settings(args) if changes is None else server_settings(args, changes)
    # no --user means the default user, unless require_user_id refuses that;
    # --user "" is refused like user_id=""
    user = args.user
    if user is None and not found.require_user_id:
        user = found.default_user
    # a short-lived command needs no background expiry sweeper
    return ContextMesh(user_id=user, settings=found, auto_cleanup=False)


def _dump(data: Any) -> str:
    return json.dumps(data, default=str, ensure_ascii=False)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else _dump(value)


def _demo(args: argparse.Namespace) -> int:
    from syntha_redis import demo

    facts = demo.main(settings(args), args.user, quiet=args.json)
    if args.json:
        print(_dump(facts))
    return 0


def _get(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        item = mesh.get_item(args.key, args.agent)
    if item is None:
        seen = f" for agent {args.agent!r}" if args.agent else ""
        if args.json:
            print(_dump({"key": args.key, "found": False, "agent": args.agent}))
        print(f"{args.key!r}: not found{seen}", file=sys.stderr)
        return 1
    print(item.model_dump_json() if args.json else _show(item.value))
    return 0


def _value(text: str, as_text: bool) -> Any:
    """The VALUE argument: JSON when it parses (numbers, objects, ...), else the text."""
    if text == "-":
        text = sys.stdin.read()
    if as_text:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _names(values: list[str] | None, what: str) -> list[str] | None:
    """Repeated or comma-separated names (``--topic a --topic b,c``)."""
    if values is None:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if not names:
        raise SynthaValidationError(f"--{what} was given without a name", field=what,
                                    suggestions=[f"Pass --{what} NAME (repeat it, or a,b)"])
    return names


def _push(args: argparse.Namespace) -> int:
    value = _value(args.value, args.text)
    with _open(args, "push") as mesh:
        # the tools' rule: a blank KEY is a slip (the Python API keeps Syntha's "")
        keys.validate_identifier(args.key, "key", mesh.settings.max_key_length)
        version = mesh.push(args.key, value, subscribers=_names(args.subscriber, "subscriber"),
                            topics=_names(args.topic, "topic"), ttl=args.ttl,
                            agent_name=args.agent, expected_version=args.expected_version)
    if args.json:
        print(_dump({"key": args.key, "version": version}))
    else:
        print(f"pushed {args.key!r} (version {version})")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        by_topic = mesh.get_available_keys_by_topic(args.agent)
    if args.json:
        print(_dump(by_topic))
        return 0
    if not by_topic:
        print(f"agent {args.agent!r} sees nothing", file=sys.stderr)
    for topic, names in by_topic.items():
        print(f"{topic}: {', '.join(names)}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    with _open(args) as mesh:
        stats = mesh.get_stats()
    print(_dump(stats) if args.json else "\n".join(f"{k}: {v}" for k, v in stats.items()))
    return 0


def _watch(args: argparse.Namespace) -> int:
    """Print events until Ctrl-C, SIGTERM, --timeout, a closed stdout or an error,
    and on each of those exits the id to resume from (on stderr): once the feed is
    open, so that a refused --since is never offered back as a place to resume."""
    resume: str | None = None
    opened = False
    stop = _Interrupts()
    try:
        with _open(args) as mesh, mesh.watch(args.agent, args.since, args.timeout) as feed:
            opened = True
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
        if opened:
            shown = f"--since {resume}" if resume else "no --since (nothing was read)"
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
    from syntha_redis.core.health import check_health
    from syntha_redis.core.store import Store

    found = settings(args)
    stream = keys.UserKeys(found.key_prefix, args.user or found.default_user).stream
    # load the scripts, as /ready does: "loaded" then means the server runs them,
    # and a server that refuses them (an ACL without SCRIPT) is reported unhealthy
    report = check_health(Store(found), stream, load_scripts=True)
    embedded = found.redis_url is None
    if embedded:  # said first, so nobody reads "status: healthy" as a server's answer
        print(f"note: {EMBEDDED_NOTE}", file=sys.stderr, flush=True)
    if args.json:
        print(_dump({**report.model_dump(mode="json"), "embedded": embedded,
                     **({"note": EMBEDDED_NOTE} if embedded else {})}))
    else:
        for name, value in report.model_dump().items():
            if value not in (None, (), []):
                shown = "; ".join(value) if isinstance(value, tuple) else value
                print(f"{name}: {shown}")
    if embedded:
        return 2
    return 0 if report.healthy else 1


def _serve(args: argparse.Namespace) -> int:
    from syntha_redis.ops.http import start_http_server

    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _: stopping.set())
    found = settings(args)
    with start_http_server(found, args.port, args.host,
                           mesh_metrics=not args.no_mesh_metrics,
                           mesh_metrics_max_age=args.mesh_metrics_every) as server:
        print(f"serving {server.where} (/health, /ready, /metrics)", flush=True)
        if found.redis_url is None:
            print("note: no Redis URL given: probes and metrics describe this process's "
                  "embedded store only", file=sys.stderr, flush=True)
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

    push = commands.add_parser("push", parents=[mesh], help="store one item")
    push.add_argument("key")
    push.add_argument("value", help="JSON if it parses, else text; '-' reads stdin")
    push.add_argument("--text", action="store_true", help="keep VALUE as text, even '42'")
    push.add_argument("--topic", action="append", help="route to this topic (repeatable)")
    push.add_argument("--subscriber", action="append", help="address this agent (repeatable)")
    push.add_argument("--ttl", type=float, help="expire after this many seconds")
    push.add_argument("--agent", help="push as this agent (post permissions enforced)")
    push.add_argument("--expected-version", type=int,
                      help="compare-and-set: the version it must have (0 = must not exist)")
    add_embedded(push)
    push.set_defaults(handler=_push)

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

    commands.add_parser("health", parents=[mesh],
                        help="exit 0 if healthy, 1 if not, 2 with no server to check"
                        ).set_defaults(handler=_health)

    # serve prints one line and serves JSON anyway: no --json; the probes are
    # the deployment's, not one user's: no --user
    serve = commands.add_parser("serve", parents=[common],
                                help="HTTP /health, /ready, /metrics")
    serve.add_argument("--port", type=int, default=8000)
    add_host(serve)
    serve.add_argument("--no-mesh-metrics", action="store_true",
                       help="leave the mesh-wide gauges out of /metrics")
    serve.add_argument("--mesh-metrics-every", type=float, default=5.0, metavar="SECONDS",
                       help="reuse a reading of the mesh this long (~35 ms per 1,000 users)")
    serve.set_defaults(handler=_serve)
