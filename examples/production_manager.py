"""The seed's production set-up: user isolation, least privilege, pooled Postgres,
and the ProductionAgentManager. Adapted from Syntha only by the imports.

Needs DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD for Postgres (DB_PASSWORD
may be empty); without them it stops at once and says which are missing.
"""

import logging
import os
import sys

from syntha_redis import ContextMesh, SynthaError, ToolHandler, create_role_based_handler


# ✅ ALWAYS: Use user isolation in production
def create_user_context(user_id: str) -> ContextMesh:
    if not user_id:
        raise ValueError("user_id is required for security")

    # Build connection string from environment variables
    db_host = os.getenv("DB_HOST", "localhost")
    db_port = os.getenv("DB_PORT", "5432")
    db_name = os.getenv("DB_NAME", "syntha_db")
    db_user = os.getenv("DB_USER")
    db_password = os.getenv("DB_PASSWORD")

    connection_string = f"postgresql://{db_user}:{db_password}@{db_host}:{db_port}/{db_name}"

    return ContextMesh(
        user_id=user_id,  # Critical for security
        enable_persistence=True,
        db_backend="postgresql",  # Production database
        connection_string=connection_string
    )


# ✅ ALWAYS: Apply principle of least privilege
def create_agent_handler(context: ContextMesh, agent_type: str, agent_name: str):
    role_permissions = {
        "viewer": "readonly",
        "contributor": "contributor",
        "admin": "admin"
    }

    role = role_permissions.get(agent_type, "readonly")  # Default to least privilege
    return create_role_based_handler(context, agent_name, role)


def create_production_context(user_id: str) -> ContextMesh:
    """Production-optimized context configuration."""
    return ContextMesh(
        user_id=user_id,

        # Performance optimizations
        enable_indexing=True,      # Fast agent lookups
        auto_cleanup=True,         # Automatic TTL cleanup
        cleanup_interval=300,      # Clean up every 5 minutes

        # Production database
        enable_persistence=True,
        db_backend="postgresql",

        # Connection pooling for scale
        pool_size=20,
        max_overflow=30,
        pool_timeout=30,
        pool_recycle=3600,

        # Database config from environment
        host=os.getenv("DB_HOST", "localhost"),
        port=int(os.getenv("DB_PORT", "5432")),
        database=os.getenv("DB_NAME", "syntha"),
        user=os.getenv("DB_USER", "syntha"),
        password=os.getenv("DB_PASSWORD")
    )


logger = logging.getLogger(__name__)


class ProductionAgentManager:
    """Production-ready agent management with comprehensive error handling."""

    def __init__(self, user_id: str):
        self.user_id = user_id
        self.context = None
        self.handlers = {}

    def initialize(self):
        """Initialize with proper error handling."""
        try:
            self.context = create_production_context(self.user_id)
            logger.info(f"Context initialized for user {self.user_id}")
        except Exception as e:
            logger.error(f"Failed to initialize context for {self.user_id}: {e}")
            raise

    def create_agent(self, agent_name: str, agent_type: str) -> ToolHandler:
        """Create agent with error handling and logging."""
        try:
            handler = create_agent_handler(self.context, agent_type, agent_name)
            self.handlers[agent_name] = handler
            logger.info(f"Created {agent_type} agent: {agent_name}")
            return handler
        except Exception as e:
            logger.error(f"Failed to create agent {agent_name}: {e}")
            raise

    def safe_tool_call(self, agent_name: str, tool_name: str, **kwargs):
        """Execute tool calls with comprehensive error handling."""
        if agent_name not in self.handlers:
            raise ValueError(f"Agent {agent_name} not found")

        handler = self.handlers[agent_name]

        try:
            result = handler.handle_tool_call(tool_name, **kwargs)

            if result.get("success"):
                logger.debug(f"Tool call succeeded: {agent_name}.{tool_name}")
                return result
            else:
                error_msg = result.get("error", "Unknown error")
                logger.warning(f"Tool call failed: {agent_name}.{tool_name} - {error_msg}")

                # Include suggestion if available
                if "suggestion" in result:
                    logger.info(f"Suggestion: {result['suggestion']}")

                return result

        except SynthaError as e:
            logger.error(f"Syntha error in {agent_name}.{tool_name}: {e}")
            return {"success": False, "error": str(e), "type": "syntha_error"}
        except Exception as e:
            logger.error(f"Unexpected error in {agent_name}.{tool_name}: {e}")
            return {"success": False, "error": str(e), "type": "unexpected_error"}

    def cleanup(self):
        """Cleanup resources."""
        if self.context:
            self.context.close()
            logger.info(f"Context closed for user {self.user_id}")


DB_VARIABLES = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")


def require_database_settings() -> None:
    """Stop with a clear message, not a 30 s pool timeout, when Postgres is not configured."""
    missing = [name for name in DB_VARIABLES if os.environ.get(name) is None]
    missing += [name for name in DB_VARIABLES[:4] if os.environ.get(name) == ""]
    if missing:
        sys.exit(f"production_manager.py needs Postgres settings; missing: {', '.join(missing)}\n"
                 "  e.g. DB_HOST=127.0.0.1 DB_PORT=5432 DB_NAME=syntha DB_USER=syntha "
                 "DB_PASSWORD=secret python examples/production_manager.py")


if __name__ == "__main__":
    require_database_settings()
    # Usage
    manager = ProductionAgentManager("example-production")
    try:
        manager.initialize()
        sales_agent = manager.create_agent("SalesAgent", "contributor")

        result = manager.safe_tool_call("SalesAgent", "push_context",
                                        key="deal_update",
                                        value="closed",
                                        topics=["sales"])
        viewer = manager.create_agent("Viewer", "viewer")
        denied = manager.safe_tool_call("Viewer", "push_context", key="x", value="y")
        print("push as contributor:", result["success"], "| push as viewer:", denied["success"])
        manager.context.db_backend.flush()  # snapshots stream asynchronously by default
        print("stored in Postgres:", sorted(manager.context.db_backend.get_all_context_items()))
        secure = create_user_context("example-production")
        print("user context sees:", secure.get("deal_update"))
        secure.close()
    finally:
        manager.cleanup()
