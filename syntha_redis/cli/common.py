"""What every ``syntha-redis`` command group shares: its settings, and the rule that
a command which changes something needs a server (or ``--embedded``)."""

from __future__ import annotations

import argparse

from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaConfigurationError

__all__ = ["EMBEDDED_NOTE", "NO_URL", "add_embedded", "add_host", "server_settings", "settings"]

NO_URL = "no Redis URL given (--redis-url or SYNTHA_REDIS_URL)"
EMBEDDED_NOTE = (f"{NO_URL}: this is the embedded in-process store of this command alone; "
                 "no server was checked")


def settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(redis_url=args.redis_url, key_prefix=args.key_prefix)


def add_embedded(parser: argparse.ArgumentParser) -> None:
    """``--embedded``: the explicit request to act on the throwaway in-process store."""
    parser.add_argument("--embedded", action="store_true",
                        help="without a Redis URL, act on this command's own in-process "
                             "store, which ends with it (to try the command out)")


def add_host(parser: argparse.ArgumentParser) -> None:
    """``--host`` of a listener: this machine only unless asked (a container passes
    ``--host 0.0.0.0`` itself, since its loopback is its own)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="listen on this address (default 127.0.0.1: this machine only; "
                             "0.0.0.0: every interface)")


def server_settings(args: argparse.Namespace, what: str) -> Settings:
    """The settings of a command that changes something. Without a Redis URL it would
    change only its own in-process store, gone when it exits, and report success:
    refused (exit 2, as ``health``), unless ``--embedded`` asks for exactly that."""
    found = settings(args)
    if found.redis_url is None and not getattr(args, "embedded", False):
        raise SynthaConfigurationError(
            f"{NO_URL}: {what} would change only the embedded in-process store of this "
            "command, which is gone when it exits",
            config_key="redis_url",
            suggestions=["Pass --redis-url redis://... or set SYNTHA_REDIS_URL",
                         "Or pass --embedded to try it on that throwaway store"],
        )
    return found
