"""Every test of tests/live/test_watch.py, run on AsyncContextMesh (see conftest):
the async change feed has the sync one's semantics, including that new changes
count from the ``watch()`` call, not from the first ``__anext__``."""

from __future__ import annotations

from tests.live import test_watch

globals().update({name: f for name, f in vars(test_watch).items() if name.startswith("test_")})
