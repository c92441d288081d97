"""syntha_redis: a Redis-native context mesh for multi-agent AI systems.

Code written for Syntha works after changing the import:
``from syntha import ContextMesh`` -> ``from syntha_redis import ContextMesh``.
"""

from syntha_redis.config import Settings
from syntha_redis.context import ContextMesh
from syntha_redis.exceptions import (
    ErrorHandler,
    SynthaConfigurationError,
    SynthaConflictError,
    SynthaConnectionError,
    SynthaContextError,
    SynthaError,
    SynthaFrameworkError,
    SynthaPerformanceError,
    SynthaPermissionError,
    SynthaPersistenceError,
    SynthaQuotaError,
    SynthaSecurityError,
    SynthaTimeoutError,
    SynthaToolError,
    SynthaValidationError,
    handle_syntha_error,
)
from syntha_redis.models import ContextItem

__version__ = "0.1.0"

__all__ = [
    "ContextItem",
    "ContextMesh",
    "ErrorHandler",
    "Settings",
    "SynthaConfigurationError",
    "SynthaConflictError",
    "SynthaConnectionError",
    "SynthaContextError",
    "SynthaError",
    "SynthaFrameworkError",
    "SynthaPerformanceError",
    "SynthaPermissionError",
    "SynthaPersistenceError",
    "SynthaQuotaError",
    "SynthaSecurityError",
    "SynthaTimeoutError",
    "SynthaToolError",
    "SynthaValidationError",
    "handle_syntha_error",
]
