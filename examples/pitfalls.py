"""The seed's "Common Pitfalls and Solutions", runnable. Adapted from Syntha only by
the imports plus the few names the seed's snippets assume (context, handler, logger).
"""

import logging

from syntha_redis import ContextMesh, ToolHandler, build_system_prompt

logger = logging.getLogger(__name__)
context = ContextMesh(user_id="example-pitfalls")
handler = ToolHandler(context, "Agent")

# ❌ DON'T: Share context between users
shared_context = ContextMesh()  # No user_id!

# ❌ DON'T: Overly permissive agents
admin_agent = ToolHandler(context, "Agent", denied_tools=[])

# ❌ DON'T: Ignore tool call results
handler.handle_tool_call("push_context", key="data", value="value")  # No error checking

# ✅ DO: Always use user isolation
user_context = ContextMesh(user_id="example-pitfalls")

# ✅ DO: Apply least privilege
readonly_agent = ToolHandler(context, "Agent", allowed_tools=["get_context", "list_context"])

# ✅ DO: Always check results
result = handler.handle_tool_call("push_context", key="data", value="value")
if not result.get("success"):
    logger.error(f"Failed to push context: {result.get('error')}")

# ✅ DO: Choose one approach per use case
# For dynamic context: use tools
handler.handle_tool_call("get_context")

# For static context: use prompts
system_prompt = build_system_prompt("Agent", context)

# ✅ DO: Always clean up
with ContextMesh(user_id="example-pitfalls") as context:
    # Use context
    pass  # Automatically cleaned up

if __name__ == "__main__":
    denied = readonly_agent.handle_tool_call("push_context", key="x", value="y")
    print("admin tools:", len(admin_agent.get_available_tools()),
          "| readonly push:", denied["success"], "-", denied["error"])
    print("same user, other handle sees:", user_context.get("data", "Agent"))
    print("prompt mentions data:", "data" in system_prompt)
