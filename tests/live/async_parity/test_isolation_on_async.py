"""Every test of tests/core/test_isolation.py, run on AsyncContextMesh (see conftest)."""

from __future__ import annotations

from tests.core import test_isolation

globals().update({name: f for name, f in vars(test_isolation).items() if name.startswith("test_")})
