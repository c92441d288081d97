"""Every test of tests/core/test_values.py, run on AsyncContextMesh (see conftest)."""

from __future__ import annotations

from tests.core import test_values

globals().update({name: f for name, f in vars(test_values).items() if name.startswith("test_")})
