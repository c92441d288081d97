"""The CLI reference (docs/operations.md) and the README's CLI table against the
``--help`` of every subcommand: every command is listed, every option the
reference names exists, and the reference names every option but the common ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from syntha_redis.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"--redis-url", "--key-prefix", "--prefix", "--help"}
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def subcommands(capsys: pytest.CaptureFixture[str]) -> dict[str, set[str]]:
    """``"snapshot run"`` -> its options, read from the --help pages."""
    found: dict[str, set[str]] = {}

    def walk(path: tuple[str, ...]) -> None:
        text = help_text(capsys, *path)
        choices = re.search(r"^positional arguments:\n\s+\{([\w,-]+)\}", text, re.M)
        if choices is None:
            found[" ".join(path)] = set(OPTION.findall(text.split("options:", 1)[1]))
            return
        for name in choices.group(1).split(","):
            walk((*path, name))

    walk(())
    return found


def rows(page: str) -> dict[str, str]:
    """The table rows of ``page`` whose first cell is a syntha-redis command line."""
    text = (ROOT / page).read_text()
    return {m.group(1): m.group(0) for m in
            re.finditer(r"^\| `syntha-redis ([^`]*)`.*$", text, re.M)}


def row_for(command: str, table: dict[str, str]) -> str | None:
    """The row listing ``command`` ("limits set" is in ``limits show / set ... / sync``)."""
    group, _, action = command.partition(" ")
    for line, row in table.items():
        cells = row.split(" | ")[0]
        if line.split()[0] == group and (not action or re.search(
                rf"(?:`syntha-redis {group} |/ `){action}\b", cells)):
            return row
    return None


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    found = subcommands(capsys)
    assert {"push", "serve", "snapshot run", "limits set", "scripts load", "acl apply",
            "mcp"} <= set(found)
    assert "--host" in found["serve"] and "--json" not in found["serve"]


def test_the_reference_lists_every_command_with_every_option(
        capsys: pytest.CaptureFixture[str]) -> None:
    table = rows("docs/operations.md")
    for command, options in subcommands(capsys).items():
        row = row_for(command, table)
        assert row is not None, f"docs/operations.md has no row for {command}"
        named = set(OPTION.findall(row.split(" | ")[0]))
        assert named <= options, (command, named - options)
        assert options - COMMON <= named, (command, options - COMMON - named)


def test_the_readme_table_lists_every_command_and_only_real_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    table = rows("README.md")
    for command, options in subcommands(capsys).items():
        row = row_for(command, table)
        assert row is not None, f"README.md has no row for {command}"
        named = set(OPTION.findall(row.split(" | ")[0]))
        # a row of several actions names options of one of them
        assert named <= options or command.partition(" ")[2], (command, named - options)


def test_the_common_options_are_what_the_reference_says(
        capsys: pytest.CaptureFixture[str]) -> None:
    for command, options in subcommands(capsys).items():
        assert {"--redis-url", "--prefix"} <= options, command
    assert "--version" in help_text(capsys)
