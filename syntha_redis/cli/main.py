"""``syntha-redis``: the command line.

Each command group is a function that adds its subcommands to the parser and
sets ``handler`` on them; to add a group (``demo``, ``stats``, ``health``,
...) append its function to ``COMMAND_GROUPS``. Redis is chosen like
everywhere else (``--redis-url`` or ``SYNTHA_REDIS_URL``); the snapshot
database with ``--dsn`` (or ``SYNTHA_DB_URL`` / ``DATABASE_URL``, as meshes do) or
``--sqlite PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from syntha_redis.cli.acl import acl_commands
from syntha_redis.cli.common import add_embedded, add_host, server_settings
from syntha_redis.cli.common import settings as common_settings
from syntha_redis.cli.mcp import mcp_commands
from syntha_redis.cli.mesh import mesh_commands
from syntha_redis.core.scripts import SCRIPTS
from syntha_redis.core.store import CommandCall, Store
from syntha_redis.exceptions import SynthaConfigurationError, SynthaError
from syntha_redis.ops import mcp_server
from syntha_redis.persistence import DATABASE_URL_VARIABLES, require_postgres_extra

__all__ = ["main", "build_parser", "COMMAND_GROUPS"]

Handler = Callable[[argparse.Namespace], int]


def _database(args: argparse.Namespace) -> Any:
    from syntha_redis.snapshot import PoolSizes, PostgresDB, SqliteDB

    dsn = args.dsn or next(
        (os.environ[v] for v in DATABASE_URL_VARIABLES if os.environ.get(v)), None
    )
    if args.sqlite:
        db: Any = SqliteDB(args.sqlite, table_prefix=args.table_prefix)
    elif dsn:
        require_postgres_extra()
        # --once --timeout 5 must not wait the pool's default 30 s for a dead server
        wait = min(args.connect_timeout, getattr(args, "timeout", None) or args.connect_timeout)
        db = PostgresDB(dsn, table_prefix=args.table_prefix,
                        pool=PoolSizes(pool_size=1, max_overflow=3, pool_timeout=wait))
    else:
        raise SynthaConfigurationError(
            "no snapshot database given",
            config_key="dsn",
            suggestions=["Pass --dsn postgresql://... (or set SYNTHA_DB_URL), "
                         "or --sqlite PATH"],
        )
    db.migrate()
    return db


def _snapshot_run(args: argparse.Namespace) -> int:
    from syntha_redis.snapshot import Snapshotter

    settings = server_settings(args, "snapshot run")
    db = _database(args)
    snap = Snapshotter(settings, db, batch_size=args.batch_size,
                       claim_idle_ms=args.claim_idle_ms,
                       maintain_every=None if args.no_maintenance else MAINTAIN_EVERY)
    try:
        if args.once:
            snap.drain(timeout=args.timeout)
        else:
            stopping: list[int] = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda signum, _: stopping.append(signum))
            with contextlib.ExitStack() as probes:
                if args.port is not None:
                    from syntha_redis.ops.http import start_http_server
                    from syntha_redis.snapshot.metrics import export

                    export(snap)
                    server = probes.enter_context(start_http_server(
                        settings, args.port, args.host, worker=snap.status, snapshot=snap))
                    print(f"probes: {server.where} (/health, /ready, /metrics)", flush=True)
                print(f"snapshotter {snap.consumer}: Redis -> {db.describe()}", flush=True)
                snap.run(stop=lambda: bool(stopping))
        lag = snap.lag()
        print(f"rows written: {snap.rows_written}; full captures: {snap.recaptures}; "
              f"lag: {lag.seconds:.3f}s, {lag.entries} entries"
              + (f"; gaps: {', '.join(lag.gaps)}" if lag.gaps else ""), flush=True)
    finally:
        db.close()
    return 0


def _progress(label: str) -> Callable[[int, int], None] | None:
    """A ``done/total`` counter on stderr for long work, when a person watches it."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label} {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def _snapshot_restore(args: argparse.Namespace) -> int:
    from syntha_redis.snapshot import restore_all, restore_user

    settings = server_settings(args, "snapshot restore")
    db = _database(args)
    try:
        report = restore_user(settings, db, args.user) if args.user else restore_all(
            settings, db, _progress("restoring users"))
    finally:
        db.close()
    print(f"users: {report.users}, items restored: {report.applied}, already newer in Redis: "
          f"{report.not_newer}, expired (skipped): {report.expired}, agent rows: {report.agents}")
    if report.refused:
        print(f"not restored (Redis refused their keys): {', '.join(report.refused)}",
              file=sys.stderr)
    return 1 if report.refused else 0


def _snapshot_verify(args: argparse.Namespace) -> int:
    from syntha_redis.snapshot import Snapshotter, verify_user

    db = _database(args)
    settings = common_settings(args)
    try:
        users = [args.user] if args.user else sorted(
            set(Snapshotter(settings, db).registered_users()) | set(db.users()))
        differing = 0
        for user in users:
            result = verify_user(settings, db, user)
            for d in result.differences:
                differing += 1
                print(f"{user}\t{d.key}\tredis: {d.redis}\tsnapshot: {d.snapshot}")
            print(f"{user}: {result.checked} items checked, "
                  f"{len(result.differences)} differ", file=sys.stderr)
    finally:
        db.close()
    return 1 if differing else 0


def snapshot_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    snapshot = commands.add_parser("snapshot", help="the durable snapshot (Postgres / SQLite)")
    sub = snapshot.add_subparsers(dest="action", required=True)
    db = argparse.ArgumentParser(add_help=False, parents=[common])
    db.add_argument("--dsn", help="Postgres connection string (default $SYNTHA_DB_URL)")
    db.add_argument("--sqlite", metavar="PATH", help="use a SQLite snapshot file instead")
    db.add_argument("--table-prefix", default="syntha_")
    db.add_argument("--connect-timeout", type=float, default=10,
                    help="give up on an unreachable Postgres after (s), default 10")

    run = sub.add_parser("run", parents=[db], help="capture changes (worker)")
    run.add_argument("--once", action="store_true", help="capture what is pending, then exit")
    run.add_argument("--timeout", type=float, default=300, help="--once gives up after (s)")
    run.add_argument("--batch-size", type=int, default=1000)
    run.add_argument("--claim-idle-ms", type=int, default=30_000,
                     help="take over entries another snapshotter left pending this long")
    run.add_argument("--port", type=int,
                     help="serve /health, /ready, /metrics on this port while running")
    add_host(run)
    run.add_argument("--no-maintenance", action="store_true",
                     help="do not reload lost scripts or provision users' limits (when "
                          "another admin process does; the worker itself needs admin "
                          "credentials: it reads every user's stream)")
    run.set_defaults(handler=_snapshot_run)
    add_embedded(run)

    restore = sub.add_parser("restore", parents=[db], help="snapshot -> Redis (idempotent)")
    restore.add_argument("--user", help="one user id (default: every user)")
    restore.set_defaults(handler=_snapshot_restore)
    add_embedded(restore)

    verify = sub.add_parser("verify", parents=[db], help="compare Redis with the snapshot")
    verify.add_argument("--user", help="one user id (default: every user)")
    verify.set_defaults(handler=_snapshot_verify)


MAINTAIN_EVERY = 2.0  # s: how soon tenants get scripts and limits back after a loss


def _limits_show(args: argparse.Namespace) -> int:
    from syntha_redis.core import limits

    settings = common_settings(args)
    found = Store(settings).run(limits.read_limits(settings))  # a read: writes nothing
    if not found:
        print("this deployment has no limits yet: the first process to write sets them "
              "from its settings (or `syntha-redis limits set`)", file=sys.stderr)
    print(json.dumps(found, indent=2))
    return 0


def _limits_set(args: argparse.Namespace) -> int:
    from syntha_redis.core import limits, registry

    settings = server_settings(args, f"limits {args.action}")
    changes: dict[str, int] = {}
    for pair in args.pairs:
        name, _, value = pair.partition("=")
        if not value.isdigit():
            raise SynthaConfigurationError(
                f"cannot read {pair!r}", config_key=name,
                suggestions=[f"Write NAME=NUMBER, NAME one of {', '.join(limits.FIELDS)}"])
        changes[name] = int(value)
    store = Store(settings)
    users = registry.users(store)
    found = store.run(limits.set_limits(settings, changes, users))
    print(json.dumps(found, indent=2))
    print(f"copied to {len(users)} registered users", file=sys.stderr)
    return 0


def _scripts_load(args: argparse.Namespace) -> int:
    loaded = 0
    store = Store(server_settings(args, "scripts load"))
    for script in SCRIPTS.values():
        store.execute(CommandCall(("SCRIPT", "LOAD", script.source)))
        loaded += 1
    print(f"loaded {loaded} scripts")
    return 0


def admin_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """``syntha-redis limits show|set|sync`` and ``scripts load`` (admin credentials)."""
    limit = commands.add_parser("limits", help="the deployment's limits, enforced in Redis")
    sub = limit.add_subparsers(dest="action", required=True)
    sub.add_parser("show", parents=[common], help="print them (JSON)").set_defaults(
        handler=_limits_show)
    change = sub.add_parser("set", parents=[common],
                            help="change some (NAME=NUMBER ..., 0 = none) and copy them to "
                                 "every registered user")
    change.add_argument("pairs", nargs="*", metavar="NAME=NUMBER")
    change.set_defaults(handler=_limits_set)
    sync = sub.add_parser("sync", parents=[common],
                          help="copy them to every registered user again")
    sync.set_defaults(handler=_limits_set, pairs=[])
    scripts = commands.add_parser("scripts", help="the Lua scripts in the server's cache")
    load = scripts.add_subparsers(dest="action", required=True).add_parser(
        "load", parents=[common], help="load every script (tenants may not)")
    load.set_defaults(handler=_scripts_load)
    for changing in (change, sync, load):
        add_embedded(changing)


COMMAND_GROUPS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    snapshot_commands,
    admin_commands,
    acl_commands,
    mesh_commands,
    mcp_commands,
]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis-url", help="default $SYNTHA_REDIS_URL")
    common.add_argument("--key-prefix", "--prefix", dest="key_prefix",
                        help="default $SYNTHA_KEY_PREFIX or 'syntha'")
    parser = argparse.ArgumentParser(prog="syntha-redis", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {mcp_server.server_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe fails here, not at interpreter exit
        return code
    except SynthaError as e:
        print(f"error: {e.message}", file=sys.stderr)
        for suggestion in e.suggestions:
            print(f"  suggestion: {suggestion}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader stopped early (`| head -1`): end quietly, as other tools do;
        # stdout goes to /dev/null so that the exit's own flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE

