"""mkdocs hook: tables generated from the code, so the docs cannot drift from it.

A page that contains one of these markers on a line of its own gets the table:

    <!-- generated: settings -->       every field of ``syntha_redis.Settings``
    <!-- generated: mesh-metrics -->   the mesh-wide gauges of ``syntha_redis.ops.fleet_metrics``

``settings_table()`` and ``mesh_metrics_table()`` are plain functions, tested in
``tests/ops/test_docs.py``.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic.fields import FieldInfo

from syntha_redis.core.config import Settings
from syntha_redis.ops.fleet_metrics import SERIES
from syntha_redis.persistence import DATABASE_URL_VARIABLES

MARKERS = {
    "<!-- generated: settings -->": lambda: settings_table(),
    "<!-- generated: mesh-metrics -->": lambda: mesh_metrics_table(),
}


def _type(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return " or ".join(_type(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= 10_000 and value & (value - 1) == 0:
        return f"`{value}` (2^{value.bit_length() - 1})"
    return f"`{value}`"


def _limits(field: FieldInfo) -> str:
    found = []
    for rule in field.metadata:
        for name, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            bound = getattr(rule, name, None)
            if bound is not None:
                found.append(f"{sign} {bound:g}" if isinstance(bound, float) else f"{sign} {bound}")
    return ", ".join(found)


def settings_table() -> str:
    """Markdown table of every ``Settings`` field: variable, type, default, meaning."""
    rows = ["| setting | environment | type | default | meaning |", "|---|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        limits = _limits(field)
        meaning = (field.description or "").replace("|", "\\|")
        if limits:
            meaning = f"{meaning} ({limits})" if meaning else f"({limits})"
        rows.append(f"| `{name}` | `SYNTHA_{name.upper()}` | {_type(field.annotation)} | "
                    f"{_default(field)} | {meaning} |")
    databases = ", ".join(f"`{v}`" for v in DATABASE_URL_VARIABLES)
    rows.append(f"| (snapshot database) | {databases} | str | none | Postgres URL used by "
                "`db_backend=\"postgresql\"` without connection details and by "
                "`syntha-redis snapshot` without `--dsn` |")
    return "\n".join(rows)


def mesh_metrics_table() -> str:
    """Markdown table of the mesh-wide gauges that ``syntha-redis serve`` exports."""
    rows = ["| series | type | meaning |", "|---|---|---|"]
    for name, (kind, help_text) in SERIES.items():
        rows.append(f"| `syntha_redis_mesh_{name}{{prefix}}` | {kind} | {help_text} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, table in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, table())
    return markdown
