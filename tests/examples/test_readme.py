"""The README's Python snippets run as written, each in a fresh interpreter,
against the machine's Redis and Postgres; its install section names every extra."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

from tests.conftest import backend_url, delete_prefix

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)

# What a snippet visibly does, where it prints or leaves something to check.
EXPECTED_OUTPUT = {"mesh.watch": "pushed counter"}


def test_the_readme_has_python_snippets() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("block", BLOCKS, ids=[f"snippet{i}" for i in range(len(BLOCKS))])
def test_readme_snippet_runs_as_written(block: str, tmp_path: Path, pg_dsn: str) -> None:
    url = backend_url("redis")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHA_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SYNTHA_REDIS_URL=str(url),
        SYNTHA_KEY_PREFIX=prefix,  # the snippet's keys stay under this test's prefix
        DATABASE_URL=pg_dsn,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=120,
        )
    finally:
        delete_prefix(url, prefix)
    assert done.returncode == 0, done.stderr[-3000:]
    for marker, output in EXPECTED_OUTPUT.items():
        if marker in block:
            assert output in done.stdout, done.stdout


def test_the_readme_shows_how_to_install_every_extra() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    install = README[README.index("## Install") : README.index("## Set-up on a fresh machine")]
    for extra in pyproject["project"]["optional-dependencies"]:
        assert re.search(rf"pip install .*\[[^\]]*\b{extra}\b", install), extra


def test_the_readme_links_the_migration_page() -> None:
    assert "(MIGRATING.md)" in README
    assert (ROOT / "MIGRATING.md").is_file()
