"""The rendered rules: derived from keys.py, exact, and covering every command sent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from syntha_redis import SynthaConfigurationError
from syntha_redis.cli import main
from syntha_redis.core import keys
from syntha_redis.core.scripts import lua_dir
from syntha_redis.ops.acl import (
    CLIENT_COMMANDS,
    SCRIPT_COMMANDS,
    allowed_commands,
    glob_escape,
    tenant_rules,
    tenant_username,
)

PACKAGE = Path(__file__).resolve().parents[2] / "syntha_redis"
# Admin code (snapshotter, restore) runs under a wider Redis user, not a tenant's;
# so do the fleet sweep (tenant processes set sweep_registered_users=False), the
# registry's readers and the provisioning of limits (a tenant's two XADDs there
# are its selector's, tested below; refused provisioning is a clear error).
ADMIN_MODULES = {"snapshot", "sweeper.py", "registry.py", "limits.py", "cli"}
# Sent where credentials allow: a tenant runs only the scripts an admin loaded,
# and meets a clear error (tests/acl/test_tenant_server.py) where they are missing.
ADMIN_ONLY = {"script|load"}
# Commands whose ACL name includes the subcommand.
CONTAINERS = {"acl", "client", "cluster", "command", "config", "memory", "object", "script",
              "xgroup", "xinfo"}


def _rule(rules: tuple[str, ...], start: str) -> list[str]:
    return [r for r in rules if r.startswith(start)]


def test_keys_and_channels_are_confined_to_the_users_root() -> None:
    rules = tenant_rules("alice", "app").rules
    writable = _rule(rules, "~")
    assert len(writable) == len(keys.WRITABLE) + 1  # and the root, which scripts name
    assert all(r.startswith("~app:{u:alice}:") for r in writable)
    assert "~app:{u:alice}:item:*" in writable and "~app:{u:alice}:ver" in writable
    assert _rule(rules, "&") == ["&app:{u:alice}:wake"]
    assert rules[rules.index("resetkeys") + 1].startswith("~")
    assert "-@all" in rules and "+@all" not in rules


def test_the_limits_are_read_only_for_the_tenant() -> None:
    rules = tenant_rules("alice", "app").rules
    assert _rule(rules, "%R~") == ["%R~app:{u:alice}:limits", "%R~app:{limits}"]
    assert not any("limits" in r for r in _rule(rules, "~"))


def test_a_tenant_may_not_load_or_run_code_of_its_own() -> None:
    rules = tenant_rules("alice", "app").rules
    assert {"+eval", "+script|load", "+script", "+function", "+fcall"}.isdisjoint(rules)
    assert "+evalsha" in rules


def test_a_hostile_user_id_cannot_widen_the_pattern() -> None:
    hostile = "a}:*?[x]\\%{b ~"
    rules = tenant_rules(hostile, "app").rules
    root = keys.UserKeys('app', hostile).root
    for pattern in _rule(rules, "~"):
        assert pattern.startswith(f"~{root}")
        # the only glob character left is a trailing star
        assert not re.search(r"[*?\[\]\\]", pattern[1:].rstrip("*"))


def test_glob_escape_makes_every_glob_character_literal() -> None:
    assert glob_escape("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f"


def test_the_users_registry_is_write_only_and_xadd_only() -> None:
    rules = tenant_rules("alice", "app").rules
    assert rules[-2:] == ("clearselectors",
                          "(%W~app:{registry}:joins %W~app:{registry}:limit-asks +xadd)")


def test_tenant_names_are_distinct_and_url_safe() -> None:
    assert tenant_username("app", "a~b") == "app~a_7Eb"
    assert tenant_username("app", "eve@acme.com") == "app~eve_40acme.com"
    assert tenant_username("a-b", "c") != tenant_username("a", "b-c")


def test_a_password_is_sent_as_its_hash_only() -> None:
    rules = tenant_rules("alice", "app", password="s3cret-horse").rules
    assert rules[0] == "reset" and rules[1].startswith("#")
    assert not any("s3cret" in r for r in rules)
    assert "reset" not in tenant_rules("alice", "app").rules  # keeps existing passwords


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(SynthaConfigurationError):
        tenant_rules("alice", "app", password="")


def _lua_commands() -> set[str]:
    calls = re.compile(r"redis\.p?call\(\s*['\"]([A-Za-z]+)['\"]")
    found: set[str] = set()
    for path in lua_dir().glob("*.lua"):
        found |= {name.lower() for name in calls.findall(path.read_text())}
    return found


def _python_commands() -> set[str]:
    """Commands of every CommandCall(("NAME", ...)), as ACL names (``script|load``)."""
    plain = re.compile(r"CommandCall\(\s*\(\s*\"([A-Za-z]+)\"(?:\s*,\s*\"([A-Za-z]+)\")?")
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if ADMIN_MODULES & set(path.relative_to(PACKAGE).parts):
            continue
        for name, second in plain.findall(path.read_text()):
            name = name.lower()
            found.add(f"{name}|{second.lower()}" if name in CONTAINERS and second else name)
    return found


def test_every_command_the_scripts_call_is_allowed() -> None:
    called = _lua_commands()
    assert called, "no redis.call found: the scan is broken"
    assert called - SCRIPT_COMMANDS == set(), "add the new commands to acl.SCRIPT_COMMANDS"
    # and no command is allowed that no script calls any more
    assert SCRIPT_COMMANDS - called == set()


def test_every_plain_command_of_the_library_is_allowed() -> None:
    sent = _python_commands()
    assert {"hmget", "smembers"} <= sent
    assert sent - ADMIN_ONLY <= set(allowed_commands())
    assert {"evalsha", "ssubscribe", "ping"} <= set(CLIENT_COMMANDS)


def test_render_prints_one_line_redis_cli_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.servers import RedisProcess

    monkeypatch.setenv("TENANT_PW", "pw")
    assert main(["acl", "render", "--user", "a b", "--key-prefix", "app",
                 "--password-env", "TENANT_PW"]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "ACL SETUSER app~a_20b" in line
    server = RedisProcess().start()
    try:
        reply = subprocess.run(["redis-cli", "-p", str(server.port)], input=line,
                               capture_output=True, text=True, check=True).stdout
        assert reply.strip() == "OK"
        out = subprocess.run(["redis-cli", "-p", str(server.port), "ACL", "GETUSER", "app~a_20b"],
                             capture_output=True, text=True, check=True).stdout
        assert "~app:{u:a%20b}:item:*" in out and "%W~app:{registry}:joins" in out
    finally:
        server.stop()


def test_render_without_the_password_variable_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    assert main(["acl", "render", "--user", "a", "--password-env", "NO_SUCH_VAR"]) == 2
    assert "NO_SUCH_VAR" in capsys.readouterr().err
