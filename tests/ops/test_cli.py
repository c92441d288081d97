"""syntha-redis demo/get/list/stats/watch/health/serve, run against the machine's Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from syntha_redis import ContextMesh, Settings
from syntha_redis.cli import main
from syntha_redis.snapshot import SqliteDB, restore_all
from tests.conftest import backend_url, delete_prefix
from tests.support.servers import RedisProcess, free_port


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


def test_get_json_of_a_missing_item_prints_json_and_exits_1(
        capsys: pytest.CaptureFixture[str], url: str, prefix: str, shared: ContextMesh) -> None:
    code, out, _ = run(capsys, url, prefix, "get", "nope", "--json")
    assert code == 1
    assert json.loads(out) == {"key": "nope", "found": False, "agent": None}


def test_push_stores_json_values_with_routing(capsys: pytest.CaptureFixture[str], url: str,
                                              prefix: str, shared: ContextMesh) -> None:
    code, out, _ = run(capsys, url, prefix, "push", "deal2", '{"amount": 7}', "--topic",
                       "sales,deals", "--ttl", "60", "--json")
    assert code == 0 and json.loads(out)["key"] == "deal2"
    item = shared.get_item("deal2")
    assert item is not None and item.value == {"amount": 7}
    assert sorted(item.topics) == ["deals", "sales"] and item.expires_at is not None
    assert shared.get("deal2", "Analyst") == {"amount": 7}


def test_push_keeps_text_and_enforces_compare_and_set(
        capsys: pytest.CaptureFixture[str], url: str, prefix: str, shared: ContextMesh) -> None:
    assert run(capsys, url, prefix, "push", "n", "42", "--text", "--subscriber", "Support")[0] == 0
    assert shared.get("n", "Support") == "42"
    code, _, err = run(capsys, url, prefix, "push", "note", "x", "--expected-version", "0")
    assert code == 2 and "error:" in err and "suggestion:" in err
    assert shared.get("note") == "call Tuesday"


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


def test_health_loads_the_scripts_so_loaded_means_the_server_runs_them(
        capsys: pytest.CaptureFixture[str], private_redis: RedisProcess) -> None:
    code, out, _ = run(capsys, private_redis.url, "x", "health", "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "healthy" and report["scripts_loaded"] is True


def test_health_without_a_url_says_it_checked_no_server_and_exits_2(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHA_REDIS_URL", raising=False)
    code = main(["health", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert code == 2
    assert report["embedded"] is True and "no server was checked" in report["note"]
    assert "embedded in-process store" in err


def test_health_exits_1_when_redis_is_down(capsys: pytest.CaptureFixture[str],
                                           dead_url: str) -> None:
    code, out, _ = run(capsys, dead_url, "x", "health", "--json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "unhealthy" and report["suggestions"]


def test_demo_runs_and_leaves_no_key_behind(capsys: pytest.CaptureFixture[str], url: str,
                                            prefix: str) -> None:
    code, out, _ = run(capsys, url, prefix, "demo")
    assert code == 0
    assert "SalesAgent" in out and "refused" in out and "6. Stats" in out
    left = {k.decode() for k in redis.Redis.from_url(url).scan_iter(match=f"{prefix}:*")}
    # the deployment's own keys stay (its limits, the registry's announcements)
    assert left <= {f"{prefix}:{{limits}}", f"{prefix}:{{registry}}:joins"}


def test_demo_honours_user_and_json(capsys: pytest.CaptureFixture[str], url: str,
                                    prefix: str) -> None:
    code, out, _ = run(capsys, url, prefix, "demo", "--json")  # run() passes --user acme
    facts = json.loads(out)
    assert code == 0 and facts["users"] == ["acme", "acme-other"]
    assert set(facts["stats"]) == {"acme", "acme-other"}
    assert facts["sees"]["SupportAgent"] == {"customer_tier": "gold",
                                             "handoff_note": "call back Tuesday"}
    assert facts["keys_deleted"] > 0
    left = {k.decode() for k in redis.Redis.from_url(url).scan_iter(match=f"{prefix}:*")}
    # the deployment's own keys stay (its limits, the registry's announcements)
    assert left <= {f"{prefix}:{{limits}}", f"{prefix}:{{registry}}:joins"}


def test_demo_refuses_a_user_that_already_has_a_mesh(
        capsys: pytest.CaptureFixture[str], url: str, prefix: str, shared: ContextMesh) -> None:
    code, _, err = run(capsys, url, prefix, "demo")
    assert code == 2 and "already has a mesh" in err
    assert shared.get("deal") == {"amount": 5}


def test_snapshot_run_against_a_dead_postgres_fails_fast_and_cleanly(
        capsys: pytest.CaptureFixture[str], url: str, prefix: str) -> None:
    started = time.monotonic()
    code = main(["snapshot", "run", "--once", "--timeout", "5", "--redis-url", url, "--prefix",
                 prefix, "--dsn", f"postgresql://127.0.0.1:{free_port()}/test"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 3
    assert err.startswith("error: cannot reach Postgres at postgresql://127.0.0.1:")
    assert "suggestion:" in err and "Traceback" not in err and "WARNING" not in err


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
