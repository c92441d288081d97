"""Syntha's ``tool_factory`` module: the factory lives in ``syntha_redis.agents.factory``."""

from syntha_redis.agents.factory import *  # noqa: F403
from syntha_redis.agents.factory import __all__ as __all__
