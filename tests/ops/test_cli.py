"""syntha-redis demo/get/list/stats/watch/health/serve, run against the machine's Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syntha_redis import ContextMesh, Settings
from syntha_redis.cli import main
from syntha_redis.snapshot import SqliteDB, restore_all
from tests.conftest import backend_url, delete_prefix
from tests.support.servers import free_port


@pytest.fixture
def url() -> str:
    return str(backend_url("redis"))


@pytest.fixture
def prefix(url: str) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(url, prefix)


@pytest.fixture
def shared(url: str, prefix: str) -> Iterator[ContextMesh]:
    mesh = ContextMesh(user_id="acme", redis_url=url, key_prefix=prefix, auto_cleanup=False)
    mesh.register_agent_topics("Analyst", ["sales"])
    mesh.push("deal", {"amount": 5}, topics=["sales"])
    mesh.push("note", "call Tuesday", subscribers=["Support"])
    yield mesh
    mesh.close()


def run(capsys: pytest.CaptureFixture[str], url: str, prefix: str,
        *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--user", "acme", "--redis-url", url, "--prefix", prefix])
    out, err = capsys.readouterr()
    return code, out, err


def test_get_prints_the_value(capsys: pytest.CaptureFixture[str], url: str, prefix: str,
                              shared: ContextMesh) -> None:
    assert run(capsys, url, prefix, "get", "note")[:2] == (0, "call Tuesday\n")
    assert run(capsys, url, prefix, "get", "deal")[:2] == (0, '{"amount": 5}\n')


def test_get_json_has_the_metadata(capsys: pytest.CaptureFixture[str], url: str, prefix: str,
                                   shared: ContextMesh) -> None:
    code, out, _ = run(capsys, url, prefix, "get", "deal", "--json")
    item = json.loads(out)
    assert code == 0 and item["value"] == {"amount": 5} and item["topics"] == ["sales"]


def test_get_of_an_invisible_item_exits_1(capsys: pytest.CaptureFixture[str], url: str,
                                          prefix: str, shared: ContextMesh) -> None:
    code, out, err = run(capsys, url, prefix, "get", "note", "--agent", "Analyst")
    assert (code, out) == (1, "") and "not found for agent 'Analyst'" in err


def test_list_shows_keys_by_topic(capsys: pytest.CaptureFixture[str], url: str, prefix: str,
                                  shared: ContextMesh) -> None:
    assert run(capsys, url, prefix, "list", "--agent", "Analyst")[:2] == (0, "sales: deal\n")
    code, out, _ = run(capsys, url, prefix, "list", "--agent", "Support", "--json")
    assert json.loads(out) == {"other": ["note"]}


def test_stats(capsys: pytest.CaptureFixture[str], url: str, prefix: str,
               shared: ContextMesh) -> None:
    code, out, _ = run(capsys, url, prefix, "stats")
    assert code == 0 and "active_items: 2\n" in out
    assert json.loads(run(capsys, url, prefix, "stats", "--json")[1])["total_topics"] == 1


def test_watch_prints_events_as_json_lines(capsys: pytest.CaptureFixture[str], url: str,
                                           prefix: str, shared: ContextMesh) -> None:
    code, out, err = run(capsys, url, prefix, "watch", "--agent", "Support", "--since", "0",
                         "--timeout", "0.2")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(e["type"], e["key"]) for e in events] == [("pushed", "note")]
    assert "resume with --since" in err


def test_health_exits_0_when_healthy(capsys: pytest.CaptureFixture[str], url: str,
                                     prefix: str) -> None:
    code, out, _ = run(capsys, url, prefix, "health")
    assert code == 0 and "status: healthy" in out
    code, out, _ = run(capsys, url, prefix, "health", "--json")
    assert code == 0 and json.loads(out)["reachable"] is True


def test_health_exits_1_when_redis_is_down(capsys: pytest.CaptureFixture[str],
                                           dead_url: str) -> None:
    code, out, _ = run(capsys, dead_url, "x", "health", "--json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "unhealthy" and report["suggestions"]


def test_demo_runs(capsys: pytest.CaptureFixture[str], url: str, prefix: str) -> None:
    code, out, _ = run(capsys, url, prefix, "demo")
    assert code == 0
    assert "SalesAgent" in out and "refused" in out and "6. Stats" in out


def test_serve_answers_probes_until_terminated(url: str, prefix: str) -> None:
    port = free_port()
    cli = Path(sys.executable).parent / "syntha-redis"
    proc = subprocess.Popen([str(cli), "serve", "--port", str(port), "--host", "127.0.0.1",
                             "--redis-url", url, "--prefix", prefix],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        assert f"serving http://127.0.0.1:{port}" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read())["ready"] is True
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0


def test_restore_all_reports_progress_per_user(url: str, prefix: str, tmp_path: Path) -> None:
    db = SqliteDB(str(tmp_path / "snap.db"))
    db.migrate()
    for user in ("a", "b", "c"):
        mesh = ContextMesh(user_id=user, redis_url=url, key_prefix=prefix,
                           db_backend="sqlite", db_path=str(tmp_path / "snap.db"))
        mesh.push("k", user)
        mesh.close()
    delete_prefix(url, prefix)
    seen: list[tuple[int, int]] = []
    report = restore_all(Settings(redis_url=url, key_prefix=prefix), db,
                         lambda done, total: seen.append((done, total)))
    assert report.users == 3 and seen == [(1, 3), (2, 3), (3, 3)]
    db.close()
