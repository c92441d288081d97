"""``syntha-redis acl render|apply``: per-tenant Redis ACL rules (``syntha_redis.ops.acl``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from syntha_redis.cli.common import server_settings
from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaConfigurationError
from syntha_redis.ops.acl import TenantRules, apply_rules, tenant_rules

__all__ = ["acl_commands"]


def _rules_from_args(args: argparse.Namespace, settings: Settings) -> TenantRules:
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise SynthaConfigurationError(
                f"environment variable {args.password_env} is not set",
                config_key="password_env",
                suggestions=[f"export {args.password_env}=<the tenant's password>"],
            )
    return tenant_rules(
        args.user, settings.key_prefix, password, args.username, settings.max_name_length
    )


def _render(args: argparse.Namespace) -> int:
    settings = Settings.from_env(key_prefix=args.key_prefix)
    print(_rules_from_args(args, settings).render())
    return 0


def _apply(args: argparse.Namespace) -> int:
    settings = server_settings(args, "acl apply")
    rules = _rules_from_args(args, settings)
    apply_rules(settings, rules, args.user)
    print(f"applied ACL rules of Redis user {rules.username} and its limits; its workers "
          f"connect with redis://{rules.username}:<password>@<host>:<port>/0")
    return 0


def acl_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """``syntha-redis acl render|apply``."""
    acl = commands.add_parser("acl", help="per-tenant Redis ACL rules")
    sub = acl.add_subparsers(dest="action", required=True)
    tenant = argparse.ArgumentParser(add_help=False, parents=[common])
    tenant.add_argument("--user", required=True, help="the tenant's user id")
    tenant.add_argument("--password-env", metavar="VAR",
                        help="set the password from this environment variable")
    tenant.add_argument("--username", help="Redis user name (default <prefix>~<encoded user>)")
    render = sub.add_parser("render", parents=[tenant],
                            help="print the ACL SETUSER command (pipe it to redis-cli)")
    render.set_defaults(handler=_render)
    apply = sub.add_parser("apply", parents=[tenant], help="run it on --redis-url")
    apply.set_defaults(handler=_apply)
