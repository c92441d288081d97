"""Run Syntha 0.2.7's own tests against syntha_redis through an import swap.

    .venv/bin/python tests/compat/upstream_sweep.py [--source PATH] [--all] [--json]

``--source`` is a Syntha checkout (git clone of github.com/Kirch77/syntha), its
``tests`` folder, or an sdist ``.tar.gz``; by default the sdist of
syntha==0.2.7 is fetched once with pip into ``~/.cache/syntha_redis``. The
sdist carries only the top-level test files; a checkout also has ``unit/``,
``integration/`` and ``security/``.

The portable tests are Syntha's unit tests of the mesh, the tool handler,
access control, user isolation and edge cases (``PORTABLE``); ``--all`` runs
every file of the source instead. Each test runs unchanged, with
``tests.compat.syntha_shim`` mapping ``syntha`` to ``syntha_redis`` and giving
it an empty mesh on the embedded fakeredis. Syntha's Postgres tests run
against ``--pg-dsn`` (default: the test suite's database) in a fresh schema.

The pass rate counts passed / (passed + failed + errors); each failure is
printed with its reason from ``DEVIATIONS`` (MIGRATING.md explains them), or
as UNEXPECTED. Exit status 0 when nothing unexpected failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.2.7"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "syntha_redis"
DEFAULT_PG_DSN = os.environ.get("SYNTHA_TEST_PG_DSN", "postgresql://127.0.0.1:5432/test")

PORTABLE = (
    "test_context.py",
    "unit/test_tools.py",
    "unit/test_tool_access_control.py",
    "test_user_isolation.py",
    "unit/test_context_edge_cases.py",
    "integration/test_tool_access_control_integration.py",
    "test_tool_handler_integration.py",
)

# Portable tests that fail on purpose: test id -> the deviation (see MIGRATING.md).
DEVIATIONS = {
    "test_context.py::TestContextMesh::test_get_stats":
        "expired items are gone from Redis, so get_stats() counts live items only",
    "test_user_isolation.py::TestUserIsolationEdgeCases::test_empty_user_id":
        "a user_id of '' (or 0, False) is refused instead of becoming the shared default user",
    "unit/test_tools.py::TestToolParameterValidation::test_missing_required_parameter":
        "a tool call with a missing argument returns success False instead of raising TypeError",
    "unit/test_tools.py::TestToolEdgeCases::test_tool_call_with_extra_parameters":
        "a tool call with an extra argument returns success False instead of raising TypeError",
    "unit/test_tool_access_control.py::TestEdgeCasesAndErrorHandling::"
    "test_role_based_access_with_nonexistent_role":
        "an unknown role raises instead of granting every tool",
    "unit/test_context_edge_cases.py::TestErrorHandling::test_memory_cleanup_on_close":
        "reads Syntha's private in-process dict mesh._data; the mesh lives in Redis",
    "unit/test_context_edge_cases.py::TestErrorHandling::"
    "test_database_connection_failure_graceful_degradation":
        "mocks persistence.create_database_backend; a snapshot database that fails raises "
        "instead of silently running without durability",
}


@dataclass
class SweepResult:
    outcomes: dict[str, str] = field(default_factory=dict)  # test id -> outcome
    messages: dict[str, str] = field(default_factory=dict)  # test id -> first error line
    missing_files: list[str] = field(default_factory=list)
    postgres: str = ""

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)

    @property
    def ran(self) -> int:
        return self.count("passed") + self.count("failed") + self.count("error")

    @property
    def pass_rate(self) -> float:
        return self.count("passed") / self.ran if self.ran else 0.0

    @property
    def failures(self) -> list[str]:
        return sorted(t for t, o in self.outcomes.items() if o in ("failed", "error"))

    @property
    def unexpected(self) -> list[str]:
        return [t for t in self.failures if t not in DEVIATIONS]


def upstream_tests(source: str | None) -> Path:
    """The ``tests`` folder of Syntha's sources (fetching the sdist if none is given)."""
    if source is None:
        source = os.environ.get("SYNTHA_UPSTREAM_SOURCE") or str(_cached_sdist())
    path = Path(source)
    if path.is_file():
        name = path.name.removesuffix(".tar.gz")
        target = CACHE / name
        if not target.exists():
            # extracted aside, then renamed: concurrent runs never see half a tree
            CACHE.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
                with tarfile.open(path) as archive:
                    archive.extractall(scratch, filter="data")
                with contextlib.suppress(OSError):  # another run got there first
                    os.rename(Path(scratch) / name, target)
        path = target
    return path / "tests" if (path / "tests").is_dir() else path


def _cached_sdist() -> Path:
    sdist = CACHE / f"syntha-{VERSION}.tar.gz"
    if not sdist.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", f"syntha=={VERSION}", "--no-binary",
                 ":all:", "--no-deps", "--quiet", "--dest", scratch],
                check=True,
            )
            os.replace(Path(scratch) / sdist.name, sdist)
    return sdist


def _postgres_schema(dsn: str) -> tuple[str, str] | None:
    """(schema, DSN using it) in the Postgres at ``dsn``, or None if unreachable."""
    try:
        import psycopg
    except ImportError:
        return None
    schema = f"up_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.Error:
        return None
    sep = "&" if "?" in dsn else "?"
    return schema, f"{dsn}{sep}options=-csearch_path%3D{schema}"


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def sweep(
    source: str | None = None,
    files: tuple[str, ...] | None = PORTABLE,
    pg_dsn: str = DEFAULT_PG_DSN,
) -> SweepResult:
    """Run Syntha's tests (``files`` relative to its tests folder; None = all)."""
    tests = upstream_tests(source)
    result = SweepResult()
    wanted = files if files is not None else tuple(
        str(p.relative_to(tests)) for p in sorted(tests.rglob("test_*.py"))
    )
    present = [f for f in wanted if (tests / f).is_file()]
    result.missing_files = [f for f in wanted if f not in present]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SYNTHA_KEY_PREFIX", None)
    postgres = _postgres_schema(pg_dsn)
    if postgres is None:
        env["SKIP_POSTGRESQL_TESTS"] = "true"
        result.postgres = f"not reachable at {pg_dsn}: Syntha's Postgres tests skipped"
    else:
        env["TEST_POSTGRESQL_URL"] = env["POSTGRES_URL"] = postgres[1]
        env["SKIP_POSTGRESQL_TESTS"] = "false"
        result.postgres = f"schema {postgres[0]} of {pg_dsn}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "junit.xml"
            subprocess.run(
                [sys.executable, "-m", "pytest", "-p", "tests.compat.syntha_shim",
                 "-p", "no:cacheprovider", "--rootdir", str(tests), "-c", os.devnull,
                 "--import-mode=importlib", "-q", "--timeout", "120",
                 "-W", "ignore::UserWarning",
                 f"--junitxml={report}", *(str(tests / f) for f in present)],
                cwd=scratch, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                check=False,
            )
            _read_junit(report, tests, result)
    finally:
        if postgres is not None:
            _drop_schema(pg_dsn, postgres[0])
    return result


def _read_junit(report: Path, tests: Path, result: SweepResult) -> None:
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "")
        # classname is the dotted path of the file (and class) under the rootdir
        parts = module.split(".")
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (tests / candidate).is_file():
                test_id = "::".join([candidate, *parts[cut:], case.get("name", "")])
                break
        else:
            test_id = f"{module}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                lines = (node.get("message") or "").splitlines()
                message = lines[0][:160] if lines else ""
                break
        if outcome == "error" and result.outcomes.get(test_id) in ("passed", "failed"):
            continue  # a teardown error after a result: keep the result
        result.outcomes[test_id] = outcome
        result.messages[test_id] = message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="Syntha checkout, tests folder or sdist .tar.gz")
    parser.add_argument("--all", action="store_true", help="every test file, not only PORTABLE")
    parser.add_argument("--pg-dsn", default=DEFAULT_PG_DSN, help="Postgres for Syntha's PG tests")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = sweep(args.source, None if args.all else PORTABLE, args.pg_dsn)
    if args.json:
        print(json.dumps({
            "pass_rate": result.pass_rate, "passed": result.count("passed"), "ran": result.ran,
            "skipped": result.count("skipped"), "failures": result.failures,
            "unexpected": result.unexpected, "missing_files": result.missing_files,
        }, indent=2))
    else:
        _print(result)
    return 1 if result.unexpected else 0


def _print(result: SweepResult) -> None:
    by_file: dict[str, Counter[str]] = {}
    for test_id, outcome in result.outcomes.items():
        by_file.setdefault(test_id.split("::")[0], Counter())[outcome] += 1
    print(f"{'file':58} passed failed error skipped")
    for name, c in sorted(by_file.items()):
        print(f"{name:58} {c['passed']:6} {c['failed']:6} {c['error']:5} {c['skipped']:7}")
    for name in result.missing_files:
        print(f"{name:58} (not in this source)")
    print(f"Postgres: {result.postgres}")
    print(f"pass rate: {result.count('passed')}/{result.ran} = {result.pass_rate:.1%}"
          f" ({result.count('skipped')} skipped)")
    for test_id in result.failures:
        reason = DEVIATIONS.get(test_id)
        label = f"deviation: {reason}" if reason else f"UNEXPECTED: {result.messages[test_id]}"
        print(f"  {test_id}\n      {label}")


if __name__ == "__main__":
    sys.exit(main())
