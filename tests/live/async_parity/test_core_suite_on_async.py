"""Every test of tests/core/test_mesh.py, run on AsyncContextMesh (see conftest)."""

from __future__ import annotations

from tests.core import test_mesh

globals().update({name: f for name, f in vars(test_mesh).items() if name.startswith("test_")})
