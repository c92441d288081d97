"""The docs site's generated tables come from the code, and its pages exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

from syntha_redis.core.config import Settings
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
    assert {"configuration.md", "operations.md", "concepts.md", "api.md"} <= set(pages)
    for page in pages:
        assert (REPO / "docs" / page).is_file(), page
