"""syntha_redis: a Redis-native context mesh for multi-agent AI systems.

Code written for Syntha works after changing the import:
``from syntha import ContextMesh`` -> ``from syntha_redis import ContextMesh``.
"""

from syntha_redis.agents.adapters import (
    FRAMEWORK_ADAPTERS,
    create_framework_adapter,
    get_supported_frameworks,
)
from syntha_redis.agents.factory import SynthaToolFactory, create_tool_factory
from syntha_redis.async_context import AsyncContextMesh
from syntha_redis.async_tools import AsyncToolHandler
from syntha_redis.context import ContextMesh
from syntha_redis.core.config import Settings
from syntha_redis.core.models import ContextItem, StoredItem
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
from syntha_redis.live.events import ChangeEvent
from syntha_redis.logging import (
    configure_logging,
    get_context_logger,
    get_logger,
    get_performance_logger,
    get_security_logger,
)
from syntha_redis.persistence import DatabaseBackend, SQLiteBackend, create_database_backend
from syntha_redis.prompts import (
    build_custom_prompt,
    build_message_prompt,
    build_system_prompt,
    inject_context_into_prompt,
)
from syntha_redis.reports import OutcomeLogger
from syntha_redis.tools import (
    PREDEFINED_ROLES,
    ToolHandler,
    create_multi_agent_handlers,
    create_restricted_handler,
    create_role_based_handler,
    get_all_tool_schemas,
    get_role_info,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncContextMesh",
    "AsyncToolHandler",
    "ChangeEvent",
    "FRAMEWORK_ADAPTERS",
    "PREDEFINED_ROLES",
    "OutcomeLogger",
    "SynthaToolFactory",
    "ToolHandler",
    "build_custom_prompt",
    "build_message_prompt",
    "build_system_prompt",
    "configure_logging",
    "create_database_backend",
    "create_framework_adapter",
    "create_multi_agent_handlers",
    "create_restricted_handler",
    "create_role_based_handler",
    "create_tool_factory",
    "get_all_tool_schemas",
    "get_context_logger",
    "get_logger",
    "get_performance_logger",
    "get_role_info",
    "get_security_logger",
    "get_supported_frameworks",
    "inject_context_into_prompt",
    "ContextItem",
    "ContextMesh",
    "DatabaseBackend",
    "ErrorHandler",
    "SQLiteBackend",
    "Settings",
    "StoredItem",
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
