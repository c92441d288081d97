"""Syntha's persistence names import from the package root and from
``persistence`` and name the snapshot databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import syntha_redis
from syntha_redis import (
    ContextMesh,
    DatabaseBackend,
    SQLiteBackend,
    create_database_backend,
    persistence,
)


def test_syntha_root_exports_the_persistence_names() -> None:
    for name in ("DatabaseBackend", "SQLiteBackend", "create_database_backend"):
        assert name in syntha_redis.__all__
    assert persistence.SQLiteBackend is SQLiteBackend
    assert issubclass(persistence.PostgreSQLBackend, DatabaseBackend)


def test_create_database_backend_returns_a_sqlite_backend(tmp_path: Path) -> None:
    db = create_database_backend("sqlite", db_path=str(tmp_path / "snap.db"))
    try:
        assert isinstance(db, SQLiteBackend)
        assert isinstance(db, DatabaseBackend)
    finally:
        db.close()


def test_a_mesh_with_db_backend_sqlite_snapshots_into_a_sqlite_backend(
    mesh_factory: Callable[..., ContextMesh], tmp_path: Path
) -> None:
    mesh = mesh_factory(db_backend="sqlite", db_path=str(tmp_path / "mesh.db"),
                        durability="sync")
    mesh.push("plan", {"step": 1})
    assert isinstance(mesh.db_backend.db, SQLiteBackend)
    assert mesh.db_backend.get_all_context_items()["plan"][0] == {"step": 1}
