"""The seed's monitored agent and health checker, with structured JSON logging.
Adapted from Syntha only by the imports (the seed also forgot a few).
"""

import logging
import time
from typing import Any, Dict

from syntha_redis import (
    ContextMesh,
    ToolHandler,
    configure_logging,
    get_context_logger,
    get_logger,
    get_performance_logger,
    get_security_logger,
)

# Configure structured logging
configure_logging(
    level=logging.INFO,
    format="json",  # Structured logging for production
    include_context=True
)

# Get specialized loggers
context_logger = get_context_logger()
performance_logger = get_performance_logger()
security_logger = get_security_logger()
logger = get_logger(__name__)


class MonitoredAgent:
    """Agent with comprehensive monitoring."""

    def __init__(self, user_id: str, agent_name: str):
        self.user_id = user_id
        self.agent_name = agent_name
        self.context = ContextMesh(user_id=user_id)
        self.handler = ToolHandler(self.context, agent_name)

        # Log agent creation
        context_logger.info("Agent created", extra={
            "user_id": user_id,
            "agent_name": agent_name,
            "context_size": self.context.size()
        })

    def monitored_tool_call(self, tool_name: str, **kwargs):
        """Tool call with monitoring and metrics."""
        start_time = time.time()

        try:
            # Log the attempt
            context_logger.info("Tool call started", extra={
                "agent_name": self.agent_name,
                "tool_name": tool_name,
                "user_id": self.user_id
            })

            result = self.handler.handle_tool_call(tool_name, **kwargs)

            # Log performance
            duration = time.time() - start_time
            performance_logger.info("Tool call completed", extra={
                "agent_name": self.agent_name,
                "tool_name": tool_name,
                "duration_ms": duration * 1000,
                "success": result.get("success", False)
            })

            # Log security events
            if tool_name in ["delete_topic", "push_context"] and result.get("success"):
                security_logger.info("Security-relevant action", extra={
                    "user_id": self.user_id,
                    "agent_name": self.agent_name,
                    "action": tool_name,
                    "details": kwargs
                })

            return result

        except Exception as e:
            # Log errors
            context_logger.error("Tool call failed", extra={
                "agent_name": self.agent_name,
                "tool_name": tool_name,
                "error": str(e),
                "duration_ms": (time.time() - start_time) * 1000
            })
            raise


class HealthChecker:
    """Monitor system health and performance."""

    def __init__(self, user_id: str):
        self.user_id = user_id
        self.context = ContextMesh(user_id=user_id)

    def check_context_health(self) -> Dict[str, Any]:
        """Check context mesh health."""
        start_time = time.time()

        try:
            # Basic connectivity test
            test_key = f"health_check_{int(time.time())}"
            self.context.push(test_key, "test_value", ttl=60)
            retrieved = self.context.get(test_key, "health_checker")

            # Get system statistics
            stats = self.context.get_stats()

            # Calculate response time
            response_time = (time.time() - start_time) * 1000

            # Cleanup test data
            self.context.delete(test_key)

            return {
                "status": "healthy" if retrieved == "test_value" else "unhealthy",
                "response_time_ms": response_time,
                "context_stats": stats,
                "timestamp": time.time()
            }

        except Exception as e:
            return {
                "status": "unhealthy",
                "error": str(e),
                "response_time_ms": (time.time() - start_time) * 1000,
                "timestamp": time.time()
            }

    def check_database_health(self) -> Dict[str, Any]:
        """Check database connectivity and performance."""
        if not self.context.db_backend:
            return {"status": "no_persistence", "message": "Database persistence disabled"}

        start_time = time.time()

        try:
            # Test database operations
            test_items = self.context.db_backend.get_all_context_items()

            return {
                "status": "healthy",
                "response_time_ms": (time.time() - start_time) * 1000,
                "total_items": len(test_items),
                "timestamp": time.time()
            }

        except Exception as e:
            return {
                "status": "unhealthy",
                "error": str(e),
                "response_time_ms": (time.time() - start_time) * 1000,
                "timestamp": time.time()
            }


if __name__ == "__main__":
    agent = MonitoredAgent("example-monitored", "MonitoredAgent")
    pushed = agent.monitored_tool_call("push_context", key="status", value="green")
    read = agent.monitored_tool_call("get_context", keys=["status"])
    print("push:", pushed["success"], "| read:", read["context"])
    checker = HealthChecker("example-monitored")
    print("context health:", checker.check_context_health()["status"])
    print("database health:", checker.check_database_health()["status"])
