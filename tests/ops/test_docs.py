"""The docs site's generated tables come from the code, and its pages exist."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from syntha_redis import ContextMesh
from syntha_redis.core.config import Settings
from syntha_redis.exceptions import SynthaValidationError
from syntha_redis.ops.fleet_metrics import SERIES

REPO = Path(__file__).resolve().parents[2]


def hook() -> ModuleType:
    path = REPO / "docs" / "_hooks" / "generated_tables.py"
    spec = importlib.util.spec_from_file_location("generated_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_table_has_a_row_per_field_with_its_variable_and_default() -> None:
    rows = hook().settings_table().splitlines()
    for name in Settings.model_fields:
        row = next(r for r in rows if r.startswith(f"| `{name}` |"))
        assert f"`SYNTHA_{name.upper()}`" in row
    assert any(r.startswith("| `pool_size` |") and "| `50` |" in r for r in rows)
    assert any(r.startswith("| `redis_url` |") and "str or none" in r for r in rows)


def test_the_metrics_table_lists_every_mesh_gauge() -> None:
    table = hook().mesh_metrics_table()
    for name in SERIES:
        assert f"`syntha_redis_mesh_{name}{{prefix}}`" in table


def test_the_markers_are_replaced_and_other_text_is_kept() -> None:
    page = "before\n<!-- generated: mesh-metrics -->\nafter"
    out = hook().on_page_markdown(page)
    assert out.startswith("before\n| series |") and out.endswith("after")


def test_every_page_in_the_navigation_exists() -> None:
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    pages = [page for entry in config["nav"] for page in entry.values()]
    assert {"configuration.md", "operations.md", "concepts.md", "api.md", "tenants.md",
            "durability.md"} <= set(pages)
    for page in pages:
        assert (REPO / "docs" / page).is_file(), page


def test_the_api_page_shows_the_fields_of_the_report_and_the_event() -> None:
    """Their fields have no docstrings: mkdocstrings hides them unless told."""
    page = (REPO / "docs" / "api.md").read_text()
    for model in ("syntha_redis.live.events.ChangeEvent", "syntha_redis.core.health.HealthReport"):
        block = page.split(f"::: {model}\n", 1)[1].split(":::", 1)[0]
        assert "show_if_no_docstring: true" in block, model


def test_the_migration_page_says_what_the_code_does(tmp_path: Path) -> None:
    page = (REPO / "docs" / "migration.md").read_text()
    assert "`ttl=0` (or `None`) never expires" in page
    assert "a `db_path` alone means SQLite" in page
    path = tmp_path / "ctx.db"
    with ContextMesh(user_id="u", db_path=str(path), auto_cleanup=False) as mesh:
        mesh.push("k", 1, ttl=0)
        item = mesh.get_item("k")
        assert item is not None and item.expires_at is None
        with pytest.raises(SynthaValidationError):
            mesh.push("k", 1, ttl=-1)
        assert mesh.db_backend is not None
        mesh.db_backend.flush()
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM syntha_items").fetchone()
    assert rows == (1,)
