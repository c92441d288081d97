"""Syntha's ``framework_adapters`` module: the adapters live in ``syntha_redis.agents.adapters``."""

from syntha_redis.agents.adapters import *  # noqa: F403
from syntha_redis.agents.adapters import __all__ as __all__
