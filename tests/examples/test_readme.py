"""Every code block of the README and of the docs site, as a reader would use it.

- Python runs as written in a fresh interpreter, against the machine's Redis and
  Postgres: each README snippet alone, each docs page's snippets in order as one
  script (a page builds on its earlier snippets).
- A shell block whose commands all end by themselves (``syntha-redis``, ``export``,
  ``openssl``) runs in bash; one with a tenant's ACL runs against a private
  redis-server. Any other shell line is checked for what it names: ``pip`` extras,
  ``make`` targets, compose services, files, the image, and ``syntha-redis``
  command lines parse.
- JSON parses, and an MCP client configuration's arguments parse.
- ``text`` and ``mermaid`` blocks are pictures, not code.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
import yaml

from syntha_redis.cli import build_parser
from syntha_redis.core.config import Settings
from tests.conftest import backend_url, delete_prefix
from tests.support.servers import RedisProcess

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)
CLI = Path(sys.executable).parent / "syntha-redis"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS = {f"SYNTHA_{name.upper()}" for name in Settings.model_fields}

# What a snippet visibly does, where it prints or leaves something to check.
EXPECTED_OUTPUT = {"mesh.watch": "pushed counter"}
RUNNABLE = {"syntha-redis", "export", "openssl"}
PICTURES = {"text", "mermaid"}


def blocks(page: Path) -> list[tuple[str, str]]:
    return FENCE.findall(page.read_text())


def shell_lines(code: str) -> list[str]:
    """The commands of a shell block: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    lines = [line.split(" #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def command_of(line: str) -> str:
    """The program a shell line runs (after ``VAR=value`` assignments)."""
    words = [w for w in shlex.split(line) if not re.fullmatch(r"\w+=\S*", w)]
    return words[0] if words else "export"


def env_for(url: str, prefix: str, pg_dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHA_")}
    env.update(PYTHONPATH=str(ROOT), SYNTHA_REDIS_URL=url, DATABASE_URL=pg_dsn,
               SYNTHA_DB_URL=pg_dsn, PATH=f"{CLI.parent}:{env.get('PATH', '')}",
               SYNTHA_KEY_PREFIX=prefix)  # the snippet's keys stay under this test's prefix
    return env


def run_python(code: str, cwd: Path, pg_dsn: str) -> subprocess.CompletedProcess[str]:
    url = str(backend_url("redis"))
    prefix = f"t{uuid.uuid4().hex[:12]}"
    try:
        return subprocess.run([sys.executable, "-c", code], cwd=cwd,
                              env=env_for(url, prefix, pg_dsn), capture_output=True,
                              text=True, timeout=120)
    finally:
        delete_prefix(url, prefix)


def test_the_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"snippet{i}" for i in range(len(BLOCKS))])
def test_readme_snippet_runs_as_written(block: str, tmp_path: Path, pg_dsn: str) -> None:
    done = run_python(block, tmp_path, pg_dsn)
    assert done.returncode == 0, done.stderr[-3000:]
    for marker, output in EXPECTED_OUTPUT.items():
        if marker in block:
            assert output in done.stdout, done.stdout


DOC_PAGES = [p for p in PAGES[1:] if any(lang == "python" for lang, _ in blocks(p))]


@pytest.mark.parametrize("page", DOC_PAGES, ids=[p.stem for p in DOC_PAGES])
def test_docs_page_python_runs_as_written(page: Path, tmp_path: Path, pg_dsn: str) -> None:
    script = "\n".join(code for lang, code in blocks(page) if lang == "python")
    done = run_python(script, tmp_path, pg_dsn)
    assert done.returncode == 0, done.stderr[-3000:]


SHELL = [(page, code) for page in PAGES for lang, code in blocks(page) if lang in ("sh", "bash")]
RUN = [(p, c) for p, c in SHELL if {command_of(line) for line in shell_lines(c)} <= RUNNABLE]
CHECKED = [(p, c) for p, c in SHELL if (p, c) not in RUN]


def test_every_block_is_run_or_checked_or_a_picture() -> None:
    langs = {lang for page in PAGES for lang, _ in blocks(page)}
    assert langs <= {"python", "sh", "bash", "json"} | PICTURES, langs
    assert RUN and CHECKED


@pytest.mark.parametrize("page,code", RUN, ids=[f"{p.stem}-{i}" for i, (p, _) in enumerate(RUN)])
def test_shell_block_runs_as_written(page: Path, code: str, tmp_path: Path,
                                     pg_dsn: str) -> None:
    if "acl apply" in code:
        # a tenant's ACL: on a server of this test, under the documented prefix
        server = RedisProcess().start()
        url, prefix = server.url, "syntha"
    else:
        server, url, prefix = None, str(backend_url("redis")), f"t{uuid.uuid4().hex[:12]}"
    env = env_for(url, prefix, pg_dsn)
    env.update(REDIS_ADMIN_URL=url, REDIS_ADDRESS=url.split("//")[1].split("/")[0])
    try:
        # the Python snippets of the page set up what its shell blocks read
        setup = "\n".join(c for lang, c in blocks(page) if lang == "python")
        if setup and "syntha-redis get" in code:
            subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, env=env, check=True,
                           capture_output=True, timeout=120)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        if server is not None:
            server.stop()
        else:
            delete_prefix(url, prefix)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr
    # a comment with the expected output is what the command printed
    for line in code.splitlines():
        shown = re.search(r"syntha-redis get .*#\s*(.+)$", line)
        if shown:
            assert shown.group(1).strip() in done.stdout


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def check_line(line: str) -> None:
    """A shell line that is not run: what it names exists."""
    words = shlex.split(line)
    while words and re.fullmatch(r"\w+=\S*", words[0]):
        words = words[1:]
    program = words[0]
    if program == "pip":
        for spec in words[2:]:
            for extras in re.findall(r"\[([^\]]+)\]", spec):
                assert set(extras.split(",")) <= set(PYPROJECT["project"][
                    "optional-dependencies"]), line
    elif program == "make":
        assert set(words[1:]) <= make_targets(), line
    elif program == "docker" and words[1] == "compose":
        services = [w for w in words[2:] if not w.startswith("-") and w not in ("up",)]
        assert set(services) <= set(COMPOSE["services"]), line
    elif program == "docker" and words[1] == "run":
        image = next(w for w in words[2:] if w.startswith("syntha-redis"))
        build_parser().parse_args(words[words.index(image) + 1:])
    elif program == "locust":
        assert (ROOT / words[words.index("-f") + 1]).is_file(), line
    elif program == "syntha-redis":
        build_parser().parse_args(words[1:])
    elif program == "export":
        names = {w.split("=")[0] for w in words[1:]}
        assert names <= SETTINGS, line
    else:
        pytest.fail(f"no check for {line!r}: run it or check what it names")


@pytest.mark.parametrize("page,code", CHECKED,
                         ids=[f"{p.stem}-{i}" for i, (p, _) in enumerate(CHECKED)])
def test_shell_block_names_what_exists(page: Path, code: str) -> None:
    for line in shell_lines(code):
        check_line(line)


def test_json_blocks_parse_and_mcp_arguments_parse() -> None:
    found = [json.loads(code) for page in PAGES for lang, code in blocks(page)
             if lang == "json"]
    assert found
    for config in found:
        for server in config.get("mcpServers", {}).values():
            assert server["command"] == "syntha-redis"
            build_parser().parse_args(server["args"])


def test_the_readme_shows_how_to_install_every_extra() -> None:
    install = README[README.index("## Install") : README.index("## Set-up on a fresh machine")]
    for extra in PYPROJECT["project"]["optional-dependencies"]:
        assert re.search(rf"pip install .*\[[^\]]*\b{extra}\b", install), extra


def test_the_readme_links_the_migration_page() -> None:
    assert "(MIGRATING.md)" in README
    assert (ROOT / "MIGRATING.md").is_file()
